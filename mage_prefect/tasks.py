"""Block → Prefect Task: the only place that builds the tasks of a pipeline's flow.

A block task runs its block (runtime/), persists its outputs (results/) and hands them downstream
(handoff.py); a global data product's task hands over the product pipeline's outputs; a reused
block's task hands over what an earlier run stored.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.runtime import task_run
from prefect.states import Cancelled, Completed, State

from .handoff import BlockResult, Skip, first_skip, input_outputs
from .project.errors import NotFound, RunFailed
from .project.models import Block, Chart, Pipeline, Project
from .results.products import fresh_outputs, latest_outputs
from .results.store import OutputStore
from .runtime.arguments import block_kwargs
from .runtime.block_code import block_source, compile_block
from .runtime.context import RunContext
from .runtime.execute import ConditionFailed, execute_block, run_cancelled_callbacks
from .runtime.fingerprints import Signatures, fingerprint

SKIPPED = "Skipped"  # Prefect has no skipped state: a named Completed state, propagated downstream
CACHED = "Cached"  # Prefect's name for a completed state whose result was not computed again


def block_task(
    pipeline: Pipeline,
    block: Block,
    store: OutputStore,
    consumers: int | None,
    tracking=None,
    signatures: Signatures | None = None,
) -> Task:
    """The block's task: skipped after a skipped upstream, cancelled once the run halts, reused when
    an incremental run finds it unchanged, else the block run with Mage's retries; its outputs are
    stored, and released after `consumers` takes."""
    conditionals = pipeline.add_ons("conditionals", block.uuid)
    callbacks = pipeline.add_ons("callbacks", block.uuid)
    source, filename = block_source(block) if block.file is not None or block.content else (None, None)
    signatures = signatures or Signatures(pipeline.repo_path, pipeline.repo_path)
    run = _BlockRun(
        pipeline,
        block,
        store,
        consumers,
        tracking,
        code=compile_block(source, filename) if block.language == "python" and source is not None else None,
        upstreams=tuple(pipeline.block(uuid) for uuid in block.upstream_blocks),
        downstreams=tuple(
            other for other in (*pipeline.blocks, *pipeline.charts) if block.uuid in other.upstream_blocks
        ),
        delays=block.retry_config.delays(),
        conditionals=conditionals,
        callbacks=callbacks,
        signature=signatures.of(block, (*conditionals, *callbacks), source),
    )

    # Short on purpose: Prefect reads the source of every task function (inspect.getsource), which
    # costs in proportion to its length, a millisecond a block for the body below.
    def run_block(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> BlockResult | State:
        return run(upstream, context, output_name, extra_kwargs)

    return _task(run_block, block, retries=len(run.delays), retry_delay_seconds=run.delays or 0)


@dataclass(frozen=True)
class _BlockRun:
    """What one block's task does, with what it is built with."""

    pipeline: Pipeline
    block: Block
    store: OutputStore
    consumers: int | None
    tracking: Any
    code: Any
    upstreams: tuple[Block, ...]
    downstreams: tuple[Block | Chart, ...]
    delays: list[float]
    conditionals: tuple[Block, ...]
    callbacks: tuple[Block, ...]
    signature: Any

    def __call__(self, upstream: tuple, context: RunContext, output_name: str, extra_kwargs: dict):
        block, store = self.block, self.store
        skip = first_skip(upstream)
        if skip is not None:
            return skipped(f"upstream skipped ({skip.reason})")
        if _halted(context):
            run_cancelled_callbacks(block, context, self.callbacks, get_run_logger())
            return _cancelled()
        fingerprint = _fingerprint(self.signature, block, context, upstream)
        unchanged = _unchanged(self.pipeline, block, store, context, fingerprint, output_name)
        if unchanged is not None:
            return unchanged
        attempt = task_run.run_count or 1
        final_attempt = attempt > len(self.delays)
        with _halts_on_failure(context, final_attempt), _tracked_block(self.tracking, block, context) as run:
            try:
                outputs = execute_block(
                    block,
                    [input_outputs(value) for value in upstream],
                    context,
                    attempt=attempt,
                    final_attempt=final_attempt,
                    logger=get_run_logger(),
                    code=self.code,
                    conditionals=self.conditionals,
                    callbacks=self.callbacks,
                    extra_kwargs=extra_kwargs,
                    upstreams=self.upstreams,
                    downstreams=self.downstreams,
                )
            except ConditionFailed as exc:
                return skipped(str(exc))
            if run is not None and len(outputs) == 1:
                from .mlflow import log_result_metrics

                log_result_metrics(outputs[0], block.uuid)
            keys, identity = store.save_outputs(self.pipeline.key, context.pipeline_run_id, output_name, outputs, False)
        return BlockResult(output_name, outputs, keys, self.consumers, store, fingerprint, identity)


def _unchanged(
    pipeline: Pipeline, block: Block, store: OutputStore, context: RunContext, fingerprint: str | None, name: str
) -> State | None:
    """In an incremental run, a Cached state with the block's latest outputs when it ran with the
    same fingerprint (unless the run refreshes it); None: execute it."""
    if not fingerprint or not context.incremental or block.uuid in context.refresh:
        return None
    unchanged = store.unchanged(pipeline.key, block.uuid, fingerprint)
    if unchanged is None:
        return None
    run_id, keys = unchanged
    result = BlockResult(name, [], keys, 0, store, fingerprint)
    return Completed(name=CACHED, message=f"unchanged since run {run_id}: its outputs reused", data=result)


def _fingerprint(signature, block: Block, context: RunContext, upstream: tuple) -> str | None:
    """The block run's fingerprint; None where incremental runs do not apply: a dynamic block or
    child, a dbt block (it depends on its whole dbt project), an upstream that is not a stored block
    result, `configuration.incremental: false`."""
    if block.dynamic or block.type == "dbt" or block.configuration.get("incremental") is False:
        return None
    if not all(isinstance(value, BlockResult) for value in upstream):
        return None
    kwargs = block_kwargs(block, context, 1, None)
    return fingerprint(signature, kwargs, [value.identity for value in upstream])


def product_task(
    project: Project, pipeline: Pipeline, block: Block, store: OutputStore, run_source: Callable[[str], State]
) -> Task:
    """A global data product: the product pipeline's latest outputs while fresh, else those of a run
    of it first (`run_source(pipeline key)`, a subflow)."""
    product = project.product_of(pipeline, block)

    def run_product(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> BlockResult | State:
        if _halted(context):
            return _cancelled()
        with _halts_on_failure(context, final=True):
            if product is None:
                name = block.configuration["global_data_product"]["uuid"]
                raise NotFound(f"global data product '{name}' is not defined in global_data_products.yaml")
            source = project.pipeline(product.object_uuid, near=product.defined_in)
            outputs = fresh_outputs(store, source, product.max_age_seconds())
            if outputs is None:
                get_run_logger().info(f"global data product {product.uuid} is outdated: running pipeline {source.key}")
                state = run_source(source.key)
                if not state.is_completed():
                    raise RunFailed(
                        f"pipeline {source.key} of global data product {product.uuid} failed: {state.message}"
                    )
                outputs = latest_outputs(store, source)
            keys, identity = store.save_outputs(pipeline.key, context.pipeline_run_id, output_name, [outputs], False)
            return BlockResult(output_name, [outputs], keys, None, store, identity=identity)

    return _task(run_product, block)


def reused_task(pipeline: Pipeline, block: Block, store: OutputStore, run: str) -> Task:
    """A block this run does not execute: its stored outputs of run `run`, as a Cached state."""

    def reuse_outputs(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> State:
        run_id = store.run_id(pipeline.key, block.uuid, run)
        keys = store.keys(pipeline.key, block.uuid, run_id)
        return Completed(
            name=CACHED, message=f"outputs of run {run_id} reused", data=BlockResult(block.uuid, [], keys, 0, store)
        )

    return _task(reuse_outputs, block)


def skipped(reason: str) -> State:
    return Completed(name=SKIPPED, message=reason, data=Skip(reason))


def _task(fn, block: Block, **options) -> Task:
    fn.__name__ = fn.__qualname__ = f"block_{block.uuid}"
    return Task(
        fn=fn,
        name=block.run_name,
        task_run_name=block.run_name,
        description=f"Mage {block.type} block {block.uuid} ({block.code_location})",
        persist_result=False,
        cache_policy=NO_CACHE,
        log_prints=True,
        **options,
    )


def _halted(context: RunContext) -> bool:
    return context.halt is not None and context.halt.is_set()


def _cancelled() -> State:
    return Cancelled(message="not run: a block failed and the run does not allow blocks to fail")


@contextmanager
def _halts_on_failure(context: RunContext, final: bool):
    """A block failing for good (no retries left) stops the run's blocks that have not started.
    execute_block halts before the block's failure callbacks; this catches what fails around it
    (saving the outputs, MLflow, a global data product's subflow)."""
    try:
        yield
    except Exception:
        if final and context.halt is not None:
            context.halt.set()
        raise


@contextmanager
def _tracked_block(tracking, block: Block, context: RunContext):
    """The block's nested MLflow run (params: its configuration and the pipeline variables)."""
    if tracking is None:
        yield None
        return
    from .mlflow import task_run as mlflow_task_run

    params = {"configuration": block.configuration, "variables": context.variables}
    tags = {"mage.pipeline_uuid": context.pipeline_uuid, "mage.block_uuid": block.uuid, "mage.block_type": block.type}
    with mlflow_task_run(tracking, str(task_run.name), params, tags) as run:
        yield run

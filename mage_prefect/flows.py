"""Pipeline → Prefect Flow, Block → Prefect Task. The only place that builds Prefect tasks."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import threading
from collections import Counter
from contextlib import chdir, contextmanager
from itertools import product
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import Flow, Task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import wait
from prefect.logging import get_run_logger
from prefect.results import ResultRecord
from prefect.runtime import deployment, flow_run, task_run
from prefect.states import Cancelled, Completed, Failed, Pending, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from .graph import dynamic_children, fanned_upstreams, is_chain, topological_order
from .handoff import BlockResult, DynamicItem, Reduced, Skip, dynamic_items, first_skip, input_outputs
from .notifications import RunFacts, notifying
from .project.models import Block, Pipeline, Project, Trigger
from .results.store import LATEST, OutputStore, results_location
from .runtime.arguments import RunContext, event_payload
from .runtime.block_code import block_source, compiled_block_code
from .runtime.execute import ConditionFailed, execute_block, run_cancelled_callbacks

SKIPPED = "Skipped"  # Prefect has no skipped state: a named Completed state, propagated downstream
CACHED = "Cached"  # Prefect's name for a completed state whose result was not computed again


def entrypoint_flow(project_dir: str | Path, pipeline_key: str, module: str, attribute: str,
                    timeout_seconds: float | None = None) -> Flow:
    """The flow of a compiled entrypoint module: loadable as `<module file>:<attribute>`."""
    from .project.validate import load_project

    return build_flow(load_project(project_dir, pipeline_key), pipeline_key, timeout_seconds=timeout_seconds,
                      entrypoint=(module, attribute))


def build_flow(project: Project, pipeline_key: str, *, results: str | Path | None = None,
               timeout_seconds: float | None = None, entrypoint: tuple[str, str] | None = None,
               execute: set[str] | None = None, reuse_run: str = LATEST, reuse_all: bool = False) -> Flow:
    """A Prefect flow that runs the pipeline's blocks as tasks, as a Mage trigger run would.

    With `execute`, only those blocks run; the upstreams they need (with `reuse_all`, every other
    block) are not run but hand over their stored outputs of run `reuse_run` (default: each block's
    latest), as Cached task runs.
    """
    pipeline = project.pipeline(pipeline_key)
    reused: set[str] = set()
    if execute is not None:
        pipeline, reused = _partial(pipeline, execute, reuse_all)
    store = OutputStore(results_location(project, results))
    order = topological_order(pipeline)
    consumers = Counter(uuid for block in order for uuid in block.upstream_blocks)
    tracking = _mlflow_tracking(project, pipeline)
    tasks = {
        block.uuid: (_reused_task(pipeline, block, store, reuse_run) if block.uuid in reused
                     else _product_task(project, pipeline, block, store) if block.type == "global_data_product"
                     else _block_task(pipeline, block, store, None if block.dynamic else consumers[block.uuid],
                                      tracking if tracking and tracking.tracks(block.uuid) else None))
        for block in order
    }
    children = dynamic_children(pipeline)
    limit = pipeline.concurrency_config.get("block_run_limit")
    sequential = not any(block.dynamic for block in order) and (limit == 1 or is_chain(pipeline))
    max_children = int(os.environ.get("MAGE_PREFECT_MAX_DYNAMIC_CHILDREN")
                       or project.settings.get("max_dynamic_children") or 1000)

    def run_pipeline(**parameters: Any) -> State:
        trigger_name = deployment.name if current_deployment_id() is not None else None
        trigger = pipeline.trigger_of_deployment(trigger_name) if trigger_name else None
        context = _run_context(project, pipeline, parameters, store.location, trigger_name, trigger)
        early = _before_trigger_start(trigger, context)
        if early is not None:
            return early
        if trigger_name is None or _is_subflow():  # Mage notifies about trigger runs only
            return _run_in_project_folder(context)
        facts = RunFacts(pipeline.uuid, trigger_name, context.execution_date, _run_url(context.pipeline_run_id))
        return notifying(pipeline.notification_config, facts, trigger.sla if trigger else None, get_run_logger(),
                         lambda: _run_in_project_folder(context))

    def _run_in_project_folder(context: RunContext) -> State:
        # Blocks run in the folder holding the project, as Mage serves it (`mage start <project>`):
        # relative paths in block code (FileIO, DuckDB files, open()) land where they do in Mage.
        with chdir(project.root.parent):
            if tracking is None:
                return _run_blocks(context)
            from .mlflow import flow_run as mlflow_flow_run

            with mlflow_flow_run(tracking, context.variables) as parent:
                state = _run_blocks(context)
                parent.failed = state.is_failed()
                return state

    def _run_blocks(context: RunContext) -> State:
        if sequential:
            states = _run_in_order(context)
        else:
            runs: dict[str, list[tuple[str, Any]]] = {}  # block uuid → [(suffix, future)] of its runs
            for block in order:
                runs[block.uuid] = _submit(block, tasks[block.uuid], runs, context)
            futures = {_run_name(block, suffix): future for block in order for suffix, future in runs[block.uuid]}
            wait(list(futures.values()))
            states = {name: future.state for name, future in futures.items()}
        saved_keys: dict[str, list[str]] = {}
        reused_keys: dict[str, list[str]] = {}
        results = {name: _value(state) if state.is_completed() else None for name, state in states.items()}
        for name, result in results.items():
            if isinstance(result, BlockResult):
                (reused_keys if states[name].name == CACHED else saved_keys)[result.name] = result.keys
        store.publish(pipeline.key, context.pipeline_run_id, saved_keys, reused_keys)
        _outputs_artifact(pipeline, states, results, store, context.pipeline_run_id, get_run_logger())
        return _final_state(states)

    def _run_in_order(context: RunContext) -> dict[str, State]:
        """A pipeline with nothing to run in parallel: call each task in this thread, one after the
        other (the thread pool would only add its hand-off cost to every block)."""
        states: dict[str, State] = {}
        results: dict[str, Any] = {}
        for block in order:
            if any(uuid not in results for uuid in block.upstream_blocks):
                states[block.run_name] = Pending(name="NotReady", message="an upstream block did not complete")
                continue
            state = tasks[block.uuid](*(results[uuid] for uuid in block.upstream_blocks), context=quote(context),
                                      output_name=block.uuid, extra_kwargs=quote({}), return_state=True)
            states[block.run_name] = state
            if state.is_completed():
                results[block.uuid] = _value(state)
        return states

    def _submit(block: Block, task: Task, runs: dict, context: RunContext) -> list[tuple[str, Any]]:
        """Submit one run of the block, or one per item combination of its fanned-out upstreams."""
        fanned = fanned_upstreams(pipeline, block, children)
        axes = [_axis(u, runs) for u in fanned]
        combinations = list(product(*axes))
        if len(combinations) > max_children:
            raise ValueError(
                f"block '{block.uuid}' would fan out into {len(combinations)} dynamic children, above the limit "
                f"of {max_children}; raise MAGE_PREFECT_MAX_DYNAMIC_CHILDREN or mage_prefect.max_dynamic_children"
            )
        submitted = []
        for index, combination in enumerate(combinations):
            picks = dict(zip(fanned, combination))
            args, extra = [], {}
            for uuid in block.upstream_blocks:
                if uuid in picks:
                    suffix, value, metadata = picks[uuid]
                    args.append(value)
                    extra.update(metadata)
                elif pipeline.block(uuid).reduce_output and uuid in children:
                    args.append(Reduced([future for _, future in runs[uuid]]))
                else:
                    args.append(runs[uuid][0][1])
            suffix = ":".join(pick[0] for pick in combination if pick[0])
            if fanned:
                extra["dynamic_block_index"] = index
            options = {"task_run_name": _run_name(block, suffix)} if suffix else {}
            submitted.append((suffix, task.with_options(**options).submit(
                *args, context=quote(context), output_name=f"{block.uuid}:{suffix}" if suffix else block.uuid,
                extra_kwargs=quote(extra))))
        return submitted

    def _axis(uuid: str, runs: dict) -> list[tuple[str, Any, dict]]:
        """The runs a fanned-out upstream contributes: (name suffix, argument, kwargs metadata)."""
        upstream = pipeline.block(uuid)
        if not upstream.dynamic:  # a dynamic child: its children are numbered, as Mage names them (`describe:0`)
            return [(str(index), future, {}) for index, (_, future) in enumerate(runs[uuid])]
        future = runs[uuid][0][1]
        parent = future.result(raise_on_failure=False)
        if not isinstance(parent, BlockResult):  # failed or skipped: its children follow its state
            return [("", future, {})]
        items, metadata = dynamic_items(parent)
        return [(str(meta.get("block_uuid", i)), DynamicItem(item, i), meta)
                for i, (item, meta) in enumerate(zip(items, metadata))]

    run_pipeline.__signature__ = _flow_signature(pipeline)
    run_pipeline.__name__ = run_pipeline.__qualname__ = pipeline.flow_name.replace("-", "_")
    if entrypoint:  # factory-built flows otherwise get an unloadable `flows.py:build_flow.<locals>…` entrypoint
        run_pipeline.__module__, run_pipeline.__qualname__ = entrypoint
    return Flow(
        fn=run_pipeline,
        name=pipeline.flow_name,
        description=pipeline.description or pipeline.name or f"Mage pipeline {pipeline.key}",
        version=pipeline_version(pipeline),
        timeout_seconds=timeout_seconds,
        task_runner=ThreadPoolTaskRunner(max_workers=limit if isinstance(limit, int) and limit > 0 else None),
        persist_result=False,
        validate_parameters=True,
    )


def _run_name(block: Block, suffix: str) -> str:
    return f"{block.run_name}:{suffix}" if suffix else block.run_name


def _partial(pipeline: Pipeline, execute: set[str], reuse_all: bool) -> tuple[Pipeline, set[str]]:
    """The pipeline cut down to the blocks to execute plus the blocks whose stored outputs are
    reused: the upstreams they need, or with `reuse_all` all others. Reused blocks lose their own
    upstreams (they are not run). Returns the cut pipeline and the reused blocks."""
    if reuse_all:
        reused = {block.uuid for block in pipeline.blocks} - execute
    else:
        reused = {uuid for block in pipeline.blocks if block.uuid in execute for uuid in block.upstream_blocks} - execute
    unusable = sorted(reused & dynamic_children(pipeline))
    if unusable:
        raise ValueError(f"block(s) {', '.join(unusable)} of pipeline '{pipeline.key}' are dynamic children, whose "
                         f"stored outputs cannot be reused: run their dynamic parent too")
    blocks = tuple(block if block.uuid in execute else block.model_copy(update={"upstream_blocks": ()})
                   for block in pipeline.blocks if block.uuid in execute | reused)
    return pipeline.model_copy(update={"blocks": blocks}), reused


def _reused_task(pipeline: Pipeline, block: Block, store: OutputStore, run: str) -> Task:
    """A block this run does not execute: its stored outputs of run `run`, as a Cached state."""

    def reuse_outputs(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> State:
        run_id = store.run_id(pipeline.key, block.uuid, run)
        keys = store.keys(pipeline.key, block.uuid, run_id)
        return Completed(name=CACHED, message=f"outputs of run {run_id} reused",
                         data=BlockResult(block.uuid, [], keys, 0, store))

    return _task(reuse_outputs, block)


def _outputs_artifact(pipeline: Pipeline, states: dict[str, State], results: dict[str, Any], store: OutputStore,
                      flow_run_id: str, logger) -> None:
    """The run's block outputs on its page in the Prefect UI: one table artifact, whose key gives each
    pipeline a version history on the Artifacts page. Sent from a thread of its own so the run does
    not wait for the API (tens of ms); Python waits for the thread before the process exits."""
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.context import SettingsContext

    rows = [{"block": name, "state": state.name,
             "outputs": "\n".join(results[name].previews) if isinstance(results[name], BlockResult) else "",
             "stored as": "\n".join(results[name].keys) if isinstance(results[name], BlockResult) else ""}
            for name, state in states.items()]
    artifact = ArtifactCreate(key=artifact_key(pipeline.key), type="table", data=json.dumps(rows),
                              description=f"Block outputs of pipeline `{pipeline.key}`, stored under `{store.location}`",
                              flow_run_id=flow_run_id)
    settings = SettingsContext.get().model_copy()  # the API to use, without the run's own (closing) client
    threading.Thread(target=_send_artifact, args=(artifact, settings, logger), name="mage-prefect-artifact").start()


def _send_artifact(artifact, settings, logger) -> None:
    from prefect.client.orchestration import get_client

    try:
        with settings, get_client(sync_client=True) as client:
            client.create_artifact(artifact)
    except Exception as exc:  # the outputs are stored and published: only their summary is missing
        logger.warning(f"the block outputs artifact was not created: {type(exc).__name__}: {exc}")


def _is_subflow() -> bool:
    """A pipeline run inside another (a global data product's, or trigger_pipeline's fallback)."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and context.flow_run.parent_task_run_id is not None


def artifact_key(pipeline_key: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{pipeline_key.lower()}-outputs")


def _run_url(flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI (its id when no UI address is known)."""
    from prefect.utilities.urls import url_for

    return url_for("flow-run", obj_id=flow_run_id) or f"flow run {flow_run_id}"


def _value(state: State) -> Any:
    """A completed task's return value. Tasks keep results in memory, so read the record directly:
    `State.result()` runs a coroutine to get there."""
    return state.data.result if isinstance(state.data, ResultRecord) else state.result()


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


def _skipped(reason: str) -> State:
    return Completed(name=SKIPPED, message=reason, data=Skip(reason))


def _mlflow_tracking(project: Project, pipeline: Pipeline):
    """MLflow tracking of the pipeline when the project's `mage_prefect.mlflow` turns it on."""
    if not project.settings.get("mlflow"):
        return None
    from .mlflow import project_tracking

    return project_tracking(project, pipeline)


@contextmanager
def _tracked_block(tracking, block: Block, context: RunContext, run_name: str):
    """The block's nested MLflow run (params: its configuration and the pipeline variables)."""
    if tracking is None:
        yield None
        return
    from .mlflow import task_run as mlflow_task_run

    params = {"configuration": block.configuration, "variables": context.variables}
    tags = {"mage.pipeline_uuid": context.pipeline_uuid, "mage.block_uuid": block.uuid, "mage.block_type": block.type}
    with mlflow_task_run(tracking, run_name, params, tags) as run:
        yield run


def _block_task(pipeline: Pipeline, block: Block, store: OutputStore, consumers: int | None,
                tracking=None) -> Task:
    code = compiled_block_code(block)[0] if block.language == "python" else None
    upstreams = tuple(pipeline.block(uuid) for uuid in block.upstream_blocks)
    delays = block.retry_config.delays()
    conditionals = pipeline.add_ons("conditionals", block.uuid)
    callbacks = pipeline.add_ons("callbacks", block.uuid)

    def run_block(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> BlockResult | State:
        skip = first_skip(upstream)
        if skip is not None:
            return _skipped(f"upstream skipped ({skip.reason})")
        if _halted(context):
            run_cancelled_callbacks(block, context, callbacks, get_run_logger())
            return _cancelled()
        attempt = task_run.run_count or 1
        final_attempt = attempt > len(delays)
        with _halts_on_failure(context, final=final_attempt), \
                _tracked_block(tracking, block, context, str(task_run.name)) as run:
            try:
                outputs = execute_block(
                    block,
                    [input_outputs(value) for value in upstream],
                    context,
                    attempt=attempt,
                    final_attempt=final_attempt,
                    logger=get_run_logger(),
                    code=code,
                    conditionals=conditionals,
                    callbacks=callbacks,
                    extra_kwargs=extra_kwargs,
                    upstreams=upstreams,
                )
            except ConditionFailed as exc:
                return _skipped(str(exc))
            if run is not None and len(outputs) == 1:
                from .mlflow import log_result_metrics

                log_result_metrics(outputs[0], block.uuid)
            keys = store.save(pipeline.key, context.pipeline_run_id, output_name, outputs, publish=False)
        return BlockResult(output_name, outputs, keys, consumers, store)

    return _task(run_block, block, retries=len(delays), retry_delay_seconds=delays or 0)


def _product_task(project: Project, pipeline: Pipeline, block: Block, store: OutputStore) -> Task:
    """A global data product: the product pipeline's latest outputs while fresh, else a run of it first."""
    product = project.product_of(pipeline, block)

    def run_product(*upstream: Any, context: RunContext, output_name: str, extra_kwargs: dict) -> BlockResult | State:
        if _halted(context):
            return _cancelled()
        with _halts_on_failure(context, final=True):
            return _product_outputs(context, output_name)

    def _product_outputs(context: RunContext, output_name: str) -> BlockResult:
        if product is None:
            raise LookupError(f"global data product '{block.configuration['global_data_product']['uuid']}' "
                              f"is not defined in global_data_products.yaml")
        source = project.pipeline(product.object_uuid, near=product.defined_in)
        if not store.fresh(source.key, [b.uuid for b in source.blocks], product.max_age_seconds()):
            get_run_logger().info(f"global data product {product.uuid} is outdated: running pipeline {source.key}")
            state = build_flow(project, source.key, results=store.location)(return_state=True)
            if not state.is_completed():
                raise RuntimeError(f"pipeline {source.key} of global data product {product.uuid} failed: {state.message}")
        outputs = [{b.uuid: store.load(source.key, b.uuid) for b in source.blocks if store.has(source.key, b.uuid)}]
        keys = store.save(pipeline.key, context.pipeline_run_id, output_name, outputs, publish=False)
        return BlockResult(output_name, outputs, keys, None, store)

    return _task(run_product, block)


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


def _flow_signature(pipeline: Pipeline) -> inspect.Signature:
    """Pipeline variables become keyword parameters with their values as defaults."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter(str(name), keyword, default=value) for name, value in pipeline.variables.items()]
    parameters.append(inspect.Parameter("execution_date", keyword, default=None, annotation=datetime | None))
    parameters.append(inspect.Parameter("runtime_variables", keyword, default=None, annotation=dict | None))
    parameters.append(inspect.Parameter("skip_sensors", keyword, default=False, annotation=bool))
    parameters.append(inspect.Parameter("allow_blocks_to_fail", keyword, default=False, annotation=bool))
    return inspect.Signature(parameters, return_annotation=State)


def _run_context(project: Project, pipeline: Pipeline, parameters: dict[str, Any], results: str | Path,
                 trigger_name: str | None, trigger: Trigger | None) -> RunContext:
    """The run's context; `trigger_name` is the deployment that started it (None: not a deployment
    run), `trigger` the pipeline's trigger of that name, if any."""
    parameters = dict(parameters)
    execution_date = parameters.pop("execution_date", None) or flow_run.scheduled_start_time
    runtime = dict(parameters.pop("runtime_variables", None) or {})
    skip_sensors = bool(parameters.pop("skip_sensors", False))
    allow_blocks_to_fail = bool(parameters.pop("allow_blocks_to_fail", False))
    event = event_payload(runtime)
    runtime.pop("event", None)
    variables = {**parameters, **runtime, **(event.get("variables") or {})}
    for name, value in event.items():  # Mage exposes other payload keys as kwargs where not already set
        if name != "variables":
            variables.setdefault(name, value)
    return RunContext(
        pipeline_uuid=pipeline.uuid,
        repo_path=pipeline.repo_path,
        root_path=project.root,
        execution_date=_utc(execution_date),
        variables=variables,
        env="prod" if trigger_name else str(variables.get("env") or os.environ.get("ENV", "dev")),
        event=event,
        pipeline_run_id=str(flow_run.id),
        trigger_name=trigger_name,
        schedule_interval=trigger.schedule_interval if trigger and trigger.schedule_type == "time" else None,
        sensor_interval=float(os.environ.get("MAGE_PREFECT_SENSOR_INTERVAL") or project.settings.get("sensor_interval") or 60),
        skip_sensors=skip_sensors,
        results_location=results,
        halt=None if allow_blocks_to_fail else threading.Event(),
    )


def _before_trigger_start(trigger: Trigger | None, context: RunContext) -> State | None:
    """Mage schedules nothing before a time trigger's `start_time`; Prefect's cron schedules have no
    start, so a run its scheduler created for an earlier time ends Skipped without running a block."""
    run = FlowRunContext.get().flow_run
    if trigger is None or trigger.schedule_type != "time" or trigger.start_time is None or not run.auto_scheduled:
        return None
    start = _utc(trigger.start_time)
    if context.execution_date >= start:
        return None
    return Completed(name=SKIPPED, message=f"scheduled for {context.execution_date:%Y-%m-%d %H:%M} UTC, before the "
                                           f"start_time of trigger '{trigger.name}' ({start:%Y-%m-%d %H:%M} UTC)")


def current_deployment_id() -> str | None:
    """The deployment of the current flow run, or of the deployment run a subflow belongs to.

    A top-level run's comes from its run context: `prefect.runtime.deployment.id` asks the API for
    the flow run whenever the run is not a deployment's, which costs each CLI run ~40 ms.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is not None and (run.deployment_id or not run.parent_task_run_id):
        return str(run.deployment_id) if run.deployment_id else None
    return deployment.id  # a subflow (global data product, trigger_pipeline): its parent's deployment


def _utc(value: Any) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = datetime.fromtimestamp(value.timestamp(), timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value


def _final_state(states: dict[str, State]) -> State:
    """Completed if every block completed, else Failed naming the failed, not-run and not-started blocks.

    The state's data maps each block's run name to its final state name and message.
    """
    summary = {name: {"state": state.name, "message": state.message or ""} for name, state in states.items()}
    failed = [name for name, state in states.items() if state.is_failed() or state.is_crashed()]
    if not failed:
        skipped = sum(state.name == SKIPPED for state in states.values())
        reused = sum(state.name == CACHED for state in states.values())
        note = (f", {skipped} skipped (condition failed)" if skipped else "") + (
            f", {reused} reused (stored outputs)" if reused else "")
        return Completed(message=f"{len(states) - skipped} block run(s) completed{note}", data=summary)
    not_run = [name for name, state in states.items() if not state.is_final()]
    cancelled = [name for name, state in states.items() if state.is_cancelled()]
    message = f"block(s) failed: {', '.join(failed)}"
    if not_run:
        message += f"; not run (upstream failed): {', '.join(not_run)}"
    if cancelled:
        message += f"; not started (allow_blocks_to_fail is false): {', '.join(cancelled)}"
    return Failed(message=message, data=summary)


def pipeline_version(pipeline: Pipeline) -> str:
    """Changes whenever the pipeline YAML or any block's code changes."""
    digest = hashlib.sha256(pipeline.source.file.read_bytes())
    for block in (*pipeline.blocks, *pipeline.callbacks, *pipeline.conditionals):
        if block.file is not None or block.content is not None:
            digest.update(block_source(block)[0].encode())
    return digest.hexdigest()[:12]

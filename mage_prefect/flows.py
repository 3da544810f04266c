"""Pipeline → Prefect Flow, Block → Prefect Task. The only place that builds Prefect tasks."""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import Flow, Task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.logging import get_run_logger
from prefect.runtime import deployment, flow_run, task_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from .graph import topological_order
from .project.models import Block, Pipeline, Project
from .results.store import OutputStore, results_location
from .runtime.arguments import RunContext
from .runtime.execute import block_source, compiled_block, execute_block

BANNED_NAME_CHARACTERS = "/%&><"


class BlockResult:
    """What a block task returns: its outputs in memory and the keys they were persisted under.

    Outputs are released once every downstream block has taken them, so a long chain of large
    DataFrames holds only what is still needed; later reads (a retry, another process) load the
    persisted copies. A plain class, not a dataclass, so Prefect does not walk into the outputs.
    """

    def __init__(self, outputs: list[Any], keys: list[str], consumers: int, store: OutputStore):
        self._outputs: list[Any] | None = outputs if consumers else None
        self._remaining = consumers
        self._lock = threading.Lock()
        self.keys, self.store = keys, store

    def take(self) -> list[Any]:
        """The outputs, for one downstream block."""
        with self._lock:
            outputs = self._outputs
            self._remaining -= 1
            if self._remaining <= 0:
                self._outputs = None
        return outputs if outputs is not None else [self.store.read(key) for key in self.keys]

    def __getstate__(self) -> dict:  # another process reads the persisted outputs
        return {"keys": self.keys, "store": self.store}

    def __setstate__(self, state: dict) -> None:
        self.__init__([], state["keys"], 0, state["store"])

    def __repr__(self) -> str:
        return f"BlockResult({', '.join(self.keys) or 'no outputs'})"


def flow_name(pipeline: Pipeline) -> str:
    return "".join("-" if char in BANNED_NAME_CHARACTERS else char for char in pipeline.uuid)


def build_flow(
    project: Project,
    pipeline_uuid: str,
    *,
    results: str | Path | None = None,
) -> Flow:
    """A Prefect flow that runs the pipeline's blocks as tasks, as a Mage trigger run would."""
    pipeline = project.pipeline(pipeline_uuid)
    store = OutputStore(results_location(project, results))
    order = topological_order(pipeline)
    consumers = Counter(uuid for block in order for uuid in block.upstream_blocks)
    tasks = {block.uuid: _block_task(pipeline, block, store, consumers[block.uuid]) for block in order}

    def run_pipeline(**parameters: Any) -> State:
        context = _run_context(project, pipeline, parameters)
        futures: dict[str, Any] = {}
        for block in order:
            upstream = [futures[uuid] for uuid in block.upstream_blocks]
            futures[block.uuid] = tasks[block.uuid].submit(*upstream, context=context)
        wait(list(futures.values()))
        return _final_state({block.run_name: futures[block.uuid] for block in order})

    run_pipeline.__signature__ = _flow_signature(pipeline)
    run_pipeline.__name__ = run_pipeline.__qualname__ = flow_name(pipeline).replace("-", "_")
    limit = pipeline.concurrency_config.get("block_run_limit")
    return Flow(
        fn=run_pipeline,
        name=flow_name(pipeline),
        description=pipeline.description or pipeline.name or f"Mage pipeline {pipeline.uuid}",
        version=_pipeline_version(pipeline),
        task_runner=ThreadPoolTaskRunner(max_workers=limit if isinstance(limit, int) and limit > 0 else None),
        persist_result=False,
        validate_parameters=True,
    )


def _block_task(pipeline: Pipeline, block: Block, store: OutputStore, consumers: int) -> Task:
    code = compiled_block(block)

    def run_block(*upstream: BlockResult, context: RunContext) -> BlockResult:
        outputs = execute_block(
            block,
            [result.take() for result in upstream],
            context,
            attempt=task_run.run_count or 1,
            logger=get_run_logger(),
            code=code,
        )
        keys = store.save(pipeline.uuid, context.pipeline_run_id, block.uuid, outputs)
        return BlockResult(outputs, keys, consumers, store)

    run_block.__name__ = run_block.__qualname__ = f"block_{block.uuid}"
    delays = block.retry_config.delays()
    return Task(
        fn=run_block,
        name=block.run_name,
        task_run_name=block.run_name,
        description=f"Mage {block.type} block {block.uuid} ({block.code_location})",
        retries=len(delays),
        retry_delay_seconds=delays or 0,
        persist_result=False,
        cache_policy=NO_CACHE,
        log_prints=True,
    )


def _flow_signature(pipeline: Pipeline) -> inspect.Signature:
    """Pipeline variables become keyword parameters with their values as defaults."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter(str(name), keyword, default=value) for name, value in pipeline.variables.items()]
    parameters.append(inspect.Parameter("execution_date", keyword, default=None, annotation=datetime | None))
    parameters.append(inspect.Parameter("runtime_variables", keyword, default=None, annotation=dict | None))
    return inspect.Signature(parameters, return_annotation=State)


def _run_context(project: Project, pipeline: Pipeline, parameters: dict[str, Any]) -> RunContext:
    parameters = dict(parameters)
    execution_date = parameters.pop("execution_date", None) or flow_run.scheduled_start_time
    runtime = parameters.pop("runtime_variables", None) or {}
    variables = {**parameters, **runtime}
    from_deployment = deployment.id is not None
    return RunContext(
        pipeline_uuid=pipeline.uuid,
        repo_path=pipeline.repo_path,
        root_path=project.root,
        execution_date=_utc(execution_date),
        variables=variables,
        env="prod" if from_deployment else str(variables.get("env") or os.environ.get("ENV", "dev")),
        event=variables.pop("event", None) or {},
        pipeline_run_id=str(flow_run.id),
        trigger_name=deployment.name if from_deployment else None,
    )


def _utc(value: Any) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = datetime.fromtimestamp(value.timestamp(), timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value


def _final_state(futures: dict[str, Any]) -> State:
    """Completed if every block completed, else Failed naming the failed and not-run blocks.

    The state's data maps each block's run name to its final state name and message.
    """
    states = {name: future.state for name, future in futures.items()}
    summary = {name: {"state": state.name, "message": state.message or ""} for name, state in states.items()}
    failed = [name for name, state in states.items() if state.is_failed() or state.is_crashed()]
    if not failed:
        return Completed(message=f"{len(states)} block(s) completed", data=summary)
    not_run = [name for name, state in states.items() if not state.is_final()]
    message = f"block(s) failed: {', '.join(failed)}"
    if not_run:
        message += f"; not run (upstream failed): {', '.join(not_run)}"
    return Failed(message=message, data=summary)


def _pipeline_version(pipeline: Pipeline) -> str:
    """Changes whenever the pipeline YAML or any block's code changes."""
    digest = hashlib.sha256(pipeline.source.file.read_bytes())
    for block in pipeline.blocks:
        digest.update(block_source(block)[0].encode())
    return digest.hexdigest()[:12]

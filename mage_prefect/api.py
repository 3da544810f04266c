"""The Python API: load a project, build or run a pipeline's flow, read a block's stored output."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from . import background_server, collector
from .project.contract import TaskRunnerSettings, TaskRunnerType
from .project.errors import InvalidRequest, NotFound
from .project.graph import lineage, selected_blocks
from .project.models import Project
from .project.parameters import RunOptions, flow_parameters
from .project.validate import load_project
from .redaction import known_secret
from .results.store import LATEST, OutputStore, results_location
from .runtime.arguments import shape_input


def _as_project(project: Project | str | Path, pipeline: str | None = None) -> Project:
    return project if isinstance(project, Project) else load_project(project, pipeline)


def with_task_runner(project: Project, kind: str | None) -> Project:
    """The project with its blocks run on task runner `kind` (threads, dask or ray; None: its own);
    the project's address and workers stay when it names the same type."""
    if kind is None:
        return project
    if kind not in get_args(TaskRunnerType):
        raise InvalidRequest(f"unknown task runner '{kind}'; use {', '.join(get_args(TaskRunnerType))}")
    runner = project.settings.runner
    if runner.type != kind:
        runner = TaskRunnerSettings(type=kind)
    return project.model_copy(update={"settings": project.settings.model_copy(update={"task_runner": runner})})


@dataclass
class RunOutcome:
    """The outcome of one pipeline run: the flow run, its final state and each block's state."""

    pipeline: str
    flow_run_id: str | None
    state: Any
    blocks: dict[str, dict] = field(default_factory=dict)  # run name → {"state": name, "message": …}

    @property
    def ok(self) -> bool:
        return bool(self.state.is_completed())


def build_flow(project: Project | str | Path, pipeline: str, **options):
    """The Prefect flow of `pipeline` (see `mage_prefect.flows.build_flow`)."""
    from .flows import build_flow as _build_flow

    return _build_flow(_as_project(project, pipeline), pipeline, **options)


def run_pipeline(
    project: Project | str | Path,
    pipeline: str,
    *,
    variables: dict[str, Any] | None = None,
    runtime_variables: dict[str, Any] | None = None,
    execution_date: datetime | str | None = None,
    results: str | Path | None = None,
    skip_sensors: bool = False,
    allow_blocks_to_fail: bool = False,
    block: str | None = None,
    start: str | None = None,
    end: str | None = None,
    resume: str | None = None,
    incremental: bool | None = None,
    refresh: list[str] | None = None,
    task_runner: str | None = None,
) -> RunOutcome:
    """Run a pipeline on Prefect (the API in PREFECT_API_URL, else Prefect's embedded server).

    `variables` override the pipeline's variables; names it does not declare become runtime
    variables, as `mage run --runtime-vars` does. Unless `allow_blocks_to_fail`, the first block
    that fails stops the blocks that have not started, as in Mage.

    A partial run executes `block` alone, or the blocks from `start` down and/or up to `end`; the
    upstreams they need hand over their latest stored outputs. `resume` (a flow run id, or 'last':
    the most recent run that failed, was cancelled or crashed) executes only what that run did not
    finish, reusing the outputs its completed blocks stored.

    `incremental` (default: the project's `mage_prefect.incremental`) skips each block whose
    fingerprint (runtime/fingerprints.py) equals its latest stored run's, except those in `refresh`.
    `task_runner` (threads, dask or ray) overrides the project's `mage_prefect.task_runner`."""
    from .flows import flow_to_run

    project = with_task_runner(_as_project(project, pipeline), task_runner)
    model = project.pipeline(pipeline)  # a Mage uuid names the same pipeline, when unambiguous
    options = RunOptions(
        execution_date, runtime_variables, skip_sensors, allow_blocks_to_fail, incremental, refresh or None
    )
    parameters = flow_parameters(model, variables or {}, options)
    _refuse_secrets({**(variables or {}), **(runtime_variables or {})})
    execute, reuse_run = _partial_run(project, model.key, results, block, start, end, resume)
    flow = flow_to_run(
        project,
        model.key,
        parameters,
        results=results,
        execute=execute,
        reuse_run=reuse_run,
        reuse_all=resume is not None,  # a resumed run records the whole pipeline
    )
    state = _run(flow, parameters)
    summary = state.result(raise_on_failure=False) if (state.is_completed() or state.is_failed()) else None
    return RunOutcome(
        pipeline=model.key,
        flow_run_id=str(state.state_details.flow_run_id),
        state=state,
        blocks=summary if isinstance(summary, dict) else {},
    )


def _run(flow, parameters: dict[str, Any]):
    """The flow's final state, run with the collector on (the CLI pauses it while it imports
    Prefect and builds the flow) and on the local server if Prefect is pointed at none."""
    with _on_the_local_server():
        collector.resume()
        return flow(**parameters, return_state=True)


LAST_RUN = "last"


def _on_the_local_server():
    """Prefect pointed at the running local server (`mage-prefect server start`, or a CLI run's)
    when no API is set in any way Prefect reads, so API runs land where CLI runs do; else as is
    (without a server, Prefect starts its own temporary one). Either way a local server the run
    goes to is waited for, when it is still starting (the CLI's first run starts it)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    configured = get_current_settings().api.url
    server = background_server.running() if background_server.wanted() else None
    if server is None or configured not in (None, server.url):
        return contextlib.nullcontext()
    server.wait_ready()
    return contextlib.nullcontext() if configured else temporary_settings(updates={PREFECT_API_URL: server.url})


def _refuse_secrets(variables: dict[str, Any]) -> None:
    """Flow-run parameters are shown in the Prefect UI: a variable holding a known secret's value
    (one the project's templates read with env_var or mage_secret_var) is refused."""
    for name, value in variables.items():
        if known_secret(value):
            raise InvalidRequest(
                f"variable '{name}' holds the value of a secret, and flow-run parameters are shown in the Prefect "
                "UI; read it where it is used instead (get_secret_value or env_var in the block or template)"
            )


def _partial_run(
    project: Project, pipeline: str, results, block: str | None, start: str | None, end: str | None, resume: str | None
) -> tuple[set[str] | None, str]:
    """The blocks to execute (None: all) and the run whose stored outputs the others hand over."""
    model = project.pipeline(pipeline)
    execute = selected_blocks(model, block=block, start=start, end=end) if block or start or end else None
    if resume is None:
        return execute, LATEST
    uuids = [b.uuid for b in model.blocks]
    store = OutputStore(results_location(project, results))
    if resume == LAST_RUN:
        last = store.runs.last_resumable(pipeline)
        if last is None:
            raise NotFound(
                f"pipeline '{pipeline}' has no run to resume: none failed, was cancelled or crashed "
                f"(in {store.location}); run it without --resume"
            )
        resume = last.run_id
    finished = store.saved(pipeline, resume, uuids)  # blocks with an intact completion record
    unfinished = set().union(*(lineage(model, uuid, "down") for uuid in uuids if uuid not in finished))
    return (unfinished if execute is None else unfinished & execute), resume


def get_outputs(
    project: Project | str | Path, pipeline: str, block: str, *, run: str = LATEST, results: str | Path | None = None
) -> list[Any]:
    """Every stored output (output_0…) of a block, from its latest run or run `run`."""
    project = _as_project(project, pipeline)
    pipeline = project.pipeline(pipeline).key
    project.pipeline(pipeline).block(block.split(":")[0])  # a clear error for unknown names (`uuid:i`: a dynamic child)
    return OutputStore(results_location(project, results)).load(pipeline, block, run)


def get_output(
    project: Project | str | Path,
    pipeline: str,
    block: str,
    *,
    run: str = LATEST,
    index: int | None = None,
    results: str | Path | None = None,
) -> Any:
    """A block's stored output as a downstream block receives it, or output `index` alone."""
    outputs = get_outputs(project, pipeline, block, run=run, results=results)
    if index is None:
        return shape_input(outputs)
    if not 0 <= index < len(outputs):
        raise NotFound(f"block '{block}' has {len(outputs)} output(s); there is no output {index}")
    return outputs[index]

"""The Python API: load a project, build or run a pipeline's flow, read a block's stored output."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .project.models import Project
from .project.validate import load_project
from .results.store import LATEST, OutputStore, results_location
from .runtime.arguments import shape_input


def _as_project(project: Project | str | Path, pipeline: str | None = None) -> Project:
    return project if isinstance(project, Project) else load_project(project, pipeline)


@dataclass
class PipelineRun:
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
) -> PipelineRun:
    """Run a pipeline on Prefect (the API in PREFECT_API_URL, else Prefect's embedded server).

    `variables` override the pipeline's variables; names it does not declare become runtime
    variables, as `mage run --runtime-vars` does. Unless `allow_blocks_to_fail`, the first block
    that fails stops the blocks that have not started, as in Mage.
    """
    project = _as_project(project, pipeline)
    declared = project.pipeline(pipeline).variables
    variables = variables or {}
    extra = {name: value for name, value in variables.items() if name not in declared}
    state = build_flow(project, pipeline, results=results)(
        **{name: value for name, value in variables.items() if name in declared},
        execution_date=execution_date,
        runtime_variables={**extra, **(runtime_variables or {})} or None,
        skip_sensors=skip_sensors,
        allow_blocks_to_fail=allow_blocks_to_fail,
        return_state=True,
    )
    summary = state.result(raise_on_failure=False) if (state.is_completed() or state.is_failed()) else None
    return PipelineRun(
        pipeline=pipeline,
        flow_run_id=str(state.state_details.flow_run_id),
        state=state,
        blocks=summary if isinstance(summary, dict) else {},
    )


def get_outputs(project: Project | str | Path, pipeline: str, block: str, *, run: str = LATEST,
                results: str | Path | None = None) -> list[Any]:
    """Every stored output (output_0…) of a block, from its latest run or run `run`."""
    project = _as_project(project, pipeline)
    project.pipeline(pipeline).block(block.split(":")[0])  # a clear error for unknown names (`uuid:i`: a dynamic child)
    return OutputStore(results_location(project, results)).load(pipeline, block, run)


def get_output(project: Project | str | Path, pipeline: str, block: str, *, run: str = LATEST,
               index: int | None = None, results: str | Path | None = None) -> Any:
    """A block's stored output as a downstream block receives it, or output `index` alone."""
    outputs = get_outputs(project, pipeline, block, run=run, results=results)
    if index is None:
        return shape_input(outputs)
    if not 0 <= index < len(outputs):
        raise IndexError(f"block '{block}' has {len(outputs)} output(s); there is no output {index}")
    return outputs[index]

"""The Python API: load a project, build or run a pipeline's flow, read a block's stored output."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .graph import topological_order
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
    blocks: dict[str, Any] = field(default_factory=dict)  # run name → final state (None: never ran)

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
    on_block_state: Callable[[str, Any], None] | None = None,
) -> PipelineRun:
    """Run a pipeline on Prefect (the API in PREFECT_API_URL, else Prefect's embedded server)."""
    states: dict[str, Any] = {}
    lock = threading.Lock()

    def record(block: str, state: Any) -> None:
        with lock:
            states[block] = state
        if on_block_state:
            on_block_state(block, state)

    project = _as_project(project, pipeline)
    flow = build_flow(project, pipeline, results=results, on_block_state=record)
    known = {name: value for name, value in (variables or {}).items() if name in project.pipeline(pipeline).variables}
    extra = {name: value for name, value in (variables or {}).items() if name not in known}
    state = flow(
        **known,
        execution_date=execution_date,
        runtime_variables={**extra, **(runtime_variables or {})} or None,
        return_state=True,
    )
    blocks = {block.run_name: states.get(block.run_name) for block in topological_order(project.pipeline(pipeline))}
    return PipelineRun(pipeline=pipeline, flow_run_id=str(state.state_details.flow_run_id), state=state, blocks=blocks)


def get_outputs(project: Project | str | Path, pipeline: str, block: str, *, run: str = LATEST,
                results: str | Path | None = None) -> list[Any]:
    """Every stored output (output_0…) of a block, from its latest run or run `run`."""
    project = _as_project(project)
    project.pipeline(pipeline).block(block)  # a clear error for unknown names
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

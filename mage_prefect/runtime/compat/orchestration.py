"""`mage_ai.orchestration.triggers.api` and `…run_status_checker`: pipelines triggering pipelines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...project.parameters import as_utc
from . import ACTIVE


@dataclass
class PipelineRun:
    """What Mage's trigger_pipeline returns: the run's id, status and execution date."""

    id: str
    status: str
    execution_date: datetime | None


def trigger_pipeline(
    pipeline_uuid: str,
    repo_path: str | None = None,
    variables: dict | None = None,
    check_status: bool = False,
    error_on_failure: bool = False,
    poll_interval: float = 60,
    poll_timeout: float | None = None,
    schedule_name: str | None = None,
    verbose: bool = True,
    **kwargs,
) -> PipelineRun:
    """Run `pipeline_uuid` through Prefect: its deployment when one exists (named `schedule_name`, if
    given), else in this process as a subflow. With `check_status`, wait for it to finish."""
    from prefect.deployments import run_deployment

    key, flow = _resolved(pipeline_uuid)
    deployment = _find_deployment(flow, schedule_name)
    if deployment is None:
        run = _run_here(key, variables)
    else:
        flow_run = run_deployment(deployment, parameters=_parameters(variables), timeout=0, as_subflow=True)
        run = _as_run(flow_run)
        started = time.monotonic()
        while check_status and not _final(run.status):
            if poll_timeout is not None and time.monotonic() - started > poll_timeout:
                raise TimeoutError(f"pipeline {pipeline_uuid} run {run.id} did not finish in {poll_timeout} s")
            time.sleep(poll_interval)
            run = _read_run(run.id)
    if check_status and error_on_failure and run.status != "completed":
        raise Exception(f"Pipeline run {run.id} for pipeline {pipeline_uuid}: {run.status}.")
    return run


def check_status(
    pipeline_uuid: str,
    execution_date: datetime,
    repo_path: str | None = None,
    block_uuid: str | None = None,
    hours: int = 24,
) -> bool:
    """Whether the latest run of the pipeline in [execution_date - hours, execution_date] completed
    (or, with `block_uuid`, that block in it). False if none or still running; raises if it failed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterExpectedStartTime
    from prefect.client.schemas.sorting import FlowRunSort

    end = as_utc(execution_date)
    window = FlowRunFilter(
        expected_start_time=FlowRunFilterExpectedStartTime(after_=end - timedelta(hours=hours), before_=end)
    )
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[_resolved(pipeline_uuid)[1]])),
            flow_run_filter=window,
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
        if not runs or not runs[0].state:
            return False
        state = runs[0].state
        if block_uuid is not None and state.is_completed():
            tasks = [
                t
                for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [runs[0].id]}))
                if t.name == block_uuid
            ]
            state = tasks[0].state if tasks and tasks[0].state else state
    if state.is_failed() or state.is_crashed():
        raise Exception(f"Pipeline {pipeline_uuid} run {runs[0].id} failed: {state.message}")
    return state.is_completed()


def _resolved(pipeline_uuid: str) -> tuple[str, str]:
    """The pipeline's key and flow name: inside a run, the running project's pipeline of that uuid,
    the one in the run's own sub-project first (as Mage looks in its active project first)."""
    from ...project.models import prefect_name
    from ...project.validate import load_project

    active = ACTIVE.get()
    if active is None:
        return pipeline_uuid, prefect_name(pipeline_uuid)
    pipeline = load_project(active.root_path, pipeline_uuid, near=active.repo_path).pipeline(
        pipeline_uuid, near=active.repo_path
    )
    return pipeline.key, pipeline.flow_name


def _find_deployment(flow: str, schedule_name: str | None) -> str | None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])))
    names = [d.name for d in deployments if schedule_name in (None, d.name)]
    return f"{flow}/{sorted(names)[0]}" if names else None


def _run_here(pipeline_key: str, variables: dict | None) -> PipelineRun:
    active = ACTIVE.get()
    if active is None or active.services is None:
        raise RuntimeError(
            "trigger_pipeline runs a pipeline without a deployment only inside a block run of mage-prefect"
        )
    flow_run_id, state = active.services.run_pipeline(pipeline_key, variables)
    return PipelineRun(id=flow_run_id, status=_status(state), execution_date=None)


def _parameters(variables: dict | None) -> dict[str, Any]:
    return {"runtime_variables": variables} if variables else {}


def _read_run(flow_run_id: str) -> PipelineRun:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return _as_run(client.read_flow_run(flow_run_id))


def _as_run(flow_run) -> PipelineRun:
    return PipelineRun(id=str(flow_run.id), status=_status(flow_run.state), execution_date=flow_run.expected_start_time)


def _status(state) -> str:
    """Mage's run statuses from a Prefect state."""
    if state is None:
        return "initial"
    if state.is_completed():
        return "completed"
    if state.is_failed() or state.is_crashed():
        return "failed"
    if state.is_cancelled():
        return "cancelled"
    return "running" if state.is_running() else "initial"


def _final(status: str) -> bool:
    return status in ("completed", "failed", "cancelled")

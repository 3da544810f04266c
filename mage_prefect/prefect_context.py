"""The Prefect flow run that mage-prefect code runs in: its deployment, whether it is a subflow, its
page in the UI, and the values of its task states."""

from __future__ import annotations

from typing import Any

from prefect.context import FlowRunContext
from prefect.results import ResultRecord
from prefect.runtime import deployment
from prefect.states import State


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


def is_subflow() -> bool:
    """A pipeline run inside another (a global data product's, or trigger_pipeline's fallback)."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and context.flow_run.parent_task_run_id is not None


def auto_scheduled() -> bool:
    """Whether Prefect's scheduler created the current flow run (from a deployment's schedule)."""
    return bool(FlowRunContext.get().flow_run.auto_scheduled)


def mark_crashed(flow_run_id: str, reason: str) -> None:
    """Set a flow run whose process died to Crashed on the server, if it is still Running there
    (a server that never heard of it, or an unreachable one, is left alone)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and not run.state.is_final():
                client.set_flow_run_state(flow_run_id, Crashed(message=f"Crashed: {reason}"), force=True)
    except Exception:  # ObjectNotFound (another server's run), or the API is down: the records still say so
        pass


def ended_state(future) -> State:
    """The final state of a task run that has ended (a future's state is only cached by `wait`).
    One whose Dask or Ray worker process died mid-run is still Running on the server: it ends
    Crashed, there and here, with the runner's reason."""
    future.wait()
    state = future.state
    if state.is_final():
        return state
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.states import Crashed

    try:
        future.result(raise_on_failure=False)
        reason = f"it ended {state.name}"
    except Exception as exc:  # the runner's own error: distributed's KilledWorker, Ray's WorkerCrashedError
        reason = f"{type(exc).__name__}: {exc}"
    crashed = Crashed(message=f"the worker process running the block died ({reason})")
    try:
        with get_client(sync_client=True) as client:
            client.set_task_run_state(future.task_run_id, crashed, force=True)
    except (ObjectNotFound, PrefectHTTPStatusError) as exc:  # the worker died before its events reached
        if getattr(getattr(exc, "response", None), "status_code", 404) != 404:  # the server: no task run there
            raise
    future._final_state = crashed  # PrefectWrappedFuture's cache of the final state
    return crashed


def run_url(flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI (its id when no UI address is known)."""
    from prefect.utilities.urls import url_for

    return url_for("flow-run", obj_id=flow_run_id) or f"flow run {flow_run_id}"


def state_value(state: State) -> Any:
    """A completed task's return value. Tasks keep results in memory, so read the record directly:
    `State.result()` runs a coroutine to get there."""
    return state.data.result if isinstance(state.data, ResultRecord) else state.result()

"""Backfills: the runs runtime/backfill_plan.py plans, each a run of the pipeline — in this
process, or as flow runs of the pipeline's deployment on the server, scheduled at their dates so
that its workers run them — at most `concurrency` at a time, with a record under
`<project>/.mage_prefect/backfills/` of how each ended, so that a resumed backfill runs only the
runs that did not complete."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import chdir
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api import run_pipeline
from .deployments import project_tag
from .project.backfill import BackfillError, BackfillRun
from .project.models import Pipeline, Project, Trigger
from .project.parameters import flow_parameters, parameters_of_call
from .project.textfile import write_atomically
from .project.validate import load_project
from .runtime.backfill_plan import BackfillPlan, Window, named_trigger, plan_backfill

COMPLETED = "Completed"
POLL_SECONDS = 1.0
WORKER_CHECK_SECONDS = 30.0  # how often a followed run that still waits for a worker checks there is one
Entry = dict[str, Any]  # a run in the record: {"state": name, "flow_run_id": id}
Launch = Callable[[BackfillRun, Entry | None, Callable[[Entry], None], threading.Event], Entry]


class Record:
    """The record file, rewritten atomically whenever a run changes (runs end in threads), its
    entries in the plan's order."""

    def __init__(self, plan: BackfillPlan, resume: bool):
        self.path, self._order = plan.record, [run.key for run in plan.runs]
        self.entries: dict[str, Entry] = self._read() if resume and self.path.is_file() else {}
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Entry]:
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise BackfillError(f"{self.path} is not a backfill record ({exc}): delete it to start afresh") from None
        if not isinstance(entries, dict) or not all(isinstance(entry, dict) for entry in entries.values()):
            raise BackfillError(f"{self.path} is not a backfill record: delete it to start afresh")
        return entries

    def set(self, run: BackfillRun, entry: Entry) -> None:
        with self._lock:
            self.entries[run.key] = entry
            ordered = {key: self.entries[key] for key in self._order if key in self.entries}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps({**ordered, **self.entries}, indent=2).encode())

    def get(self, run: BackfillRun) -> Entry | None:
        return self.entries.get(run.key)


def backfill(
    project: Project | str | Path,
    pipeline: str,
    window: Window,
    *,
    variables: dict[str, Any] | None = None,
    trigger: str | None = None,
    concurrency: int = 1,
    resume: bool = False,
    local: bool = False,
    on_start: Callable[[str | None, BackfillPlan, int], None] | None = None,
    on_run: Callable[[int, BackfillRun, Entry | None], None] | None = None,
) -> list[tuple[BackfillRun, Entry]]:
    """Run the pipeline once per date of the `window` with Mage's variables (or once per variables
    dict its code returns) over `variables` over the `trigger`'s; with `resume`, only the runs whose
    last attempt did not complete. Unless `local`, the runs are flow runs of the pipeline's
    deployment (the trigger's, or its only one, whose trigger they then run as) when the server has
    it. `on_start` is told the deployment (None: in this process), the plan and how many runs are
    to be made; `on_run` each run's end as it happens (None: skipped as completed). Returns each
    run and its record entry; a Ctrl-C leaves the record as far as it got (resume it)."""
    project = project if isinstance(project, Project) else load_project(project, pipeline)
    model = project.pipeline(pipeline)
    if concurrency < 1:
        raise BackfillError(f"--concurrency {concurrency}: give at least 1")
    chosen = named_trigger(model, trigger) if trigger else None
    deployment = None if local else _deployment(project, model, chosen)
    if deployment is not None and chosen is None:
        chosen = model.trigger_of_deployment(deployment.name)
    plan = plan_backfill(project, model, window, variables or {}, chosen)
    if deployment is not None:
        _refuse_later_dates(plan, f"{model.flow_name}/{deployment.name}")
        _refuse_unpolled(deployment)
    record = Record(plan, resume)
    allow = bool(chosen and chosen.settings.allow_blocks_to_fail)
    launch = _deployed(model, deployment, variables) if deployment else _local(project, model, plan.variables, allow)
    todo = {i: run for i, run in enumerate(plan.runs) if (record.get(run) or {}).get("state") != COMPLETED}
    if on_start:
        on_start(f"{model.flow_name}/{deployment.name}" if deployment else None, plan, len(todo))
    for index, run in enumerate(plan.runs):
        if on_run and index not in todo:
            on_run(index, run, None)
    # every run in this process shares the working folder a run changes into (not one run's exit)
    with chdir(project.root.parent):
        _run_all(launch, todo, record, concurrency, on_run)
    return [(run, record.get(run)) for run in plan.runs]


def _run_all(launch: Launch, todo: dict[int, BackfillRun], record: Record, concurrency: int, on_run) -> None:
    """Launch every run, `concurrency` at a time, recording each as it ends. On Ctrl-C (or an
    error) no further run starts; followed runs stop being followed (they go on on the server)."""
    stop = threading.Event()

    def recorded(run: BackfillRun) -> Entry:
        entry = launch(run, record.get(run), lambda noted: record.set(run, noted), stop)
        record.set(run, entry)
        return entry

    with ThreadPoolExecutor(concurrency, thread_name_prefix="backfill") as pool:
        futures = {pool.submit(recorded, run): index for index, run in todo.items()}
        try:
            for future in as_completed(futures):
                entry = future.result()
                if on_run:
                    on_run(futures[future], todo[futures[future]], entry)
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise


def _local(project: Project, pipeline: Pipeline, base: dict[str, Any], allow: bool) -> Launch:
    """Each run one in this process, its variables over `base`."""

    def launch(run: BackfillRun, earlier: Entry | None, note: Callable[[Entry], None], stop) -> Entry:
        outcome = run_pipeline(
            project,
            pipeline.key,
            variables={**base, **run.variables},
            execution_date=run.execution_date,
            allow_blocks_to_fail=allow,
        )
        return {"state": COMPLETED if outcome.ok else outcome.state.name, "flow_run_id": outcome.flow_run_id}

    return launch


@contextlib.contextmanager
def _server(what: str) -> Iterator[None]:
    """The Prefect API's errors as one line saying what was being done."""
    import httpx
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
    from prefect.settings import get_current_settings

    try:
        yield
    except (ObjectNotFound, PrefectHTTPStatusError, httpx.HTTPError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackfillError(f"{what}: the Prefect API at {get_current_settings().api.url} said: {detail}") from None


def _deployment(project: Project, pipeline: Pipeline, trigger: Trigger | None):
    """The server's deployment of the pipeline to run the dates on: the trigger's, else the only
    one; None when the server has none."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName

    with _server(f"reading the deployments of pipeline '{pipeline.key}'"), get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[pipeline.flow_name])),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[project_tag(project)])),
        )
    wanted = [d for d in deployments if trigger is None or d.name == trigger.deployment_name]
    if not deployments:
        return None
    if len(wanted) != 1:
        reason = f"has no deployment '{trigger.deployment_name}'" if trigger else "has several deployments"
        raise BackfillError(
            f"pipeline '{pipeline.key}' {reason} on the server ({', '.join(sorted(d.name for d in deployments))}): "
            "name the trigger with --trigger, run `mage-prefect deploy`, or run the dates here with --local"
        )
    return wanted[0]


def _refuse_later_dates(plan: BackfillPlan, deployment: str) -> None:
    later = [run for run in plan.runs if run.execution_date > datetime.now(UTC)]
    if later:
        raise BackfillError(
            f"{len(later)} run(s) are after now (the first at {later[0].execution_date.isoformat()}): as flow runs "
            f"of deployment {deployment} they would wait until then; end the backfill before now, or run it here "
            "with --local"
        )


def _refuse_unpolled(deployment) -> None:
    """A pool no worker polls is refused: its runs would wait for ever."""
    from prefect.client.orchestration import get_client

    pool = deployment.work_pool_name
    with _server(f"reading work pool '{pool}'"), get_client(sync_client=True) as client:
        if pool is not None and not _polled(client, pool):
            raise BackfillError(
                f"no worker polls work pool '{pool}' of deployment {deployment.name}, so its runs would wait: "
                f"start one (`prefect worker start --pool {pool}`), or run the dates here with --local"
            )


def _polled(client, pool_name: str) -> bool:
    """Whether the pool's runs get run: a push or managed pool, or one an online worker polls."""
    from prefect.client.schemas.objects import WorkerStatus

    pool = client.read_work_pool(pool_name)
    if pool.is_push_pool or pool.is_managed_pool:
        return True
    return any(worker.status == WorkerStatus.ONLINE for worker in client.read_workers_for_work_pool(pool_name))


def _deployed(pipeline: Pipeline, deployment, variables: dict | None) -> Launch:
    """Each run a flow run of the deployment scheduled at its date (its parameters: the
    deployment's, the backfill's variables over them), followed until it ends. A resumed run whose
    recorded flow run is still going is followed, not started again."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    declared, options = parameters_of_call(deployment.parameters)
    base = {**declared, **(options.runtime_variables or {}), **(variables or {})}
    options = replace(options, runtime_variables=None)

    def launch(run: BackfillRun, earlier: Entry | None, note: Callable[[Entry], None], stop) -> Entry:
        with _server(f"the flow run of {run.label}"), get_client(sync_client=True) as client:
            flow_run = _recorded(client, earlier)
            if flow_run is None or (flow_run.state.is_final() and not flow_run.state.is_completed()):
                flow_run = client.create_flow_run_from_deployment(
                    deployment.id,
                    parameters=flow_parameters(
                        pipeline, {**base, **run.variables}, replace(options, execution_date=run.execution_date)
                    ),
                    state=Scheduled(scheduled_time=run.execution_date),
                    tags=["backfill"],
                )
                note({"state": flow_run.state.name, "flow_run_id": str(flow_run.id)})
            flow_run = _followed(client, flow_run, deployment.work_pool_name, stop)
        state = COMPLETED if flow_run.state.is_completed() else flow_run.state.name
        return {"state": state, "flow_run_id": str(flow_run.id)}

    return launch


def _followed(client, flow_run, pool: str | None, stop: threading.Event):
    """The flow run once it ends or pauses (or when the backfill stops); a run that waits for a
    worker while none polls its pool any more is an error, not a wait for ever."""
    checked = time.monotonic()
    while not (flow_run.state.is_final() or flow_run.state.is_paused()) and not stop.wait(POLL_SECONDS):
        flow_run = client.read_flow_run(flow_run.id)
        if pool and flow_run.state.is_scheduled() and time.monotonic() - checked > WORKER_CHECK_SECONDS:
            checked = time.monotonic()
            if not _polled(client, pool):
                raise BackfillError(
                    f"flow run {flow_run.id} waits for a worker, and none polls work pool '{pool}' any more: "
                    f"start one (`prefect worker start --pool {pool}`), then rerun with --resume"
                )
    return flow_run


def _recorded(client, earlier: Entry | None):
    """The flow run an earlier backfill recorded for the run, if the server still has it."""
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_flow_run(earlier["flow_run_id"]) if (earlier or {}).get("flow_run_id") else None
    except ObjectNotFound:
        return None

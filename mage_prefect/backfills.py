"""Backfills: the runs project/backfill.py plans, each a run of the pipeline at its date — in this
process, or as flow runs of the pipeline's deployment on the server, scheduled at their dates so
that its workers run them — at most `concurrency` at a time, with a record under
`<project>/.mage_prefect/backfills/` of how each ended, so that a resumed backfill runs only the
dates that did not complete."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import chdir
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .api import run_pipeline
from .deployments import project_tag
from .project.backfill import BackfillError, BackfillRun
from .project.errors import NotFound, did_you_mean
from .project.models import Pipeline, Project, Trigger
from .project.parameters import flow_parameters, parameters_of_call
from .project.textfile import write_atomically
from .project.validate import load_project
from .runtime.backfill_code import planned_runs

COMPLETED = "Completed"
POLL_SECONDS = 1.0
Entry = dict[str, Any]  # a date's run in the record: {"state": name, "flow_run_id": id}
Launch = Callable[[BackfillRun, Entry | None, Callable[[Entry], None]], Entry]


class Record:
    """The record file, rewritten atomically whenever a date's run changes (runs end in threads)."""

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.entries: dict[str, Entry] = json.loads(path.read_text()) if resume and path.is_file() else {}
        self._lock = threading.Lock()

    def set(self, run: BackfillRun, entry: Entry) -> None:
        with self._lock:
            self.entries[run.key] = entry
            self.entries = dict(sorted(self.entries.items()))  # oldest first, whichever ends first
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(self.entries, indent=2).encode())

    def get(self, run: BackfillRun) -> Entry | None:
        return self.entries.get(run.key)


def backfill(
    project: Project | str | Path,
    pipeline: str,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    every: str | None = None,
    code: str | Path | None = None,
    variables: dict[str, Any] | None = None,
    trigger: str | None = None,
    concurrency: int = 1,
    resume: bool = False,
    local: bool = False,
    on_start: Callable[[str | None, int], None] | None = None,
    on_run: Callable[[int, BackfillRun, Entry | None], None] | None = None,
) -> list[tuple[BackfillRun, Entry]]:
    """Run the pipeline once per backfill date with Mage's variables (or once per variables dict
    the `code` file returns) over `variables` over the `trigger`'s; with `resume`, only the runs
    whose last attempt did not complete. Unless `local`, the runs are flow runs of the pipeline's
    deployment (the trigger's, or its only one) when the server has it. `on_start` is told the
    deployment (None: in this process) and how many runs are to be made; `on_run` each run's end
    as it happens (None: skipped as completed). Returns each run and its record entry."""
    project = project if isinstance(project, Project) else load_project(project, pipeline)
    model = project.pipeline(pipeline)
    if concurrency < 1:
        raise BackfillError(f"--concurrency {concurrency}: give at least 1")
    chosen = _trigger(model, trigger)
    base = {**(chosen.variables if chosen else {}), **(variables or {})}
    runs, path = planned_runs(project, model, start=start, end=end, every=every, code=code, variables=base)
    record = Record(path, resume)
    deployment = None if local else _deployment(project, model, chosen)
    allow = bool(chosen and chosen.settings.allow_blocks_to_fail)
    launch = _deployed(model, deployment, variables) if deployment else _local(project, model, base, allow)
    todo = [(i, run) for i, run in enumerate(runs) if (record.get(run) or {}).get("state") != COMPLETED]
    if on_start:
        on_start(f"{model.flow_name}/{deployment.name}" if deployment else None, len(todo))
    for index, run in enumerate(runs):
        if on_run and (index, run) not in todo:
            on_run(index, run, None)
    # every run in this process shares the working folder a run changes into (not one run's exit)
    with chdir(project.root.parent):
        _run_all(launch, todo, record, concurrency, on_run)
    return [(run, record.get(run)) for run in runs]


def _run_all(launch: Launch, todo: list[tuple[int, BackfillRun]], record: Record, concurrency: int, on_run) -> None:
    with ThreadPoolExecutor(concurrency, thread_name_prefix="backfill") as pool:
        futures = {
            pool.submit(launch, run, record.get(run), lambda entry, run=run: record.set(run, entry)): (index, run)
            for index, run in todo
        }
        try:
            for future in as_completed(futures):
                index, run = futures[future]
                record.set(run, future.result())
                if on_run:
                    on_run(index, run, record.get(run))
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _trigger(pipeline: Pipeline, name: str | None) -> Trigger | None:
    if name is None:
        return None
    found = next((t for t in pipeline.triggers if name in (t.name, t.deployment_name)), None)
    if found is None:
        names = [t.name for t in pipeline.triggers]
        hint = did_you_mean(name, names) or f"its triggers: {', '.join(names) or 'none'}"
        raise NotFound(f"pipeline '{pipeline.key}' has no trigger '{name}'; {hint}")
    return found


def _local(project: Project, pipeline: Pipeline, base: dict[str, Any], allow: bool) -> Launch:
    """Each run one in this process, its variables over `base`."""

    def launch(run: BackfillRun, earlier: Entry | None, note: Callable[[Entry], None]) -> Entry:
        outcome = run_pipeline(
            project,
            pipeline.key,
            variables={**base, **run.variables},
            execution_date=run.execution_date,
            allow_blocks_to_fail=allow,
        )
        return {"state": COMPLETED if outcome.ok else outcome.state.name, "flow_run_id": outcome.flow_run_id}

    return launch


def _deployment(project: Project, pipeline: Pipeline, trigger: Trigger | None):
    """The server's deployment of the pipeline to run the dates on: the trigger's, else the only
    one; None when the server has none. A pool no worker polls is refused (the runs would wait)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[pipeline.flow_name])),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[project_tag(project)])),
        )
        names = sorted(d.name for d in deployments)
        wanted = [d for d in deployments if trigger is None or d.name == trigger.deployment_name]
        if not deployments:
            return None
        if len(wanted) != 1:
            reason = f"has no deployment '{trigger.deployment_name}'" if trigger else "has several deployments"
            raise BackfillError(
                f"pipeline '{pipeline.key}' {reason} on the server ({', '.join(names)}): name the trigger "
                "with --trigger, run `mage-prefect deploy`, or run the dates here with --local"
            )
        _refuse_unpolled(client, wanted[0])
        return wanted[0]


def _refuse_unpolled(client, deployment) -> None:
    from prefect.client.schemas.objects import WorkerStatus

    pool = client.read_work_pool(deployment.work_pool_name)
    if pool.is_push_pool or pool.is_managed_pool:
        return
    workers = client.read_workers_for_work_pool(pool.name)
    if not any(worker.status == WorkerStatus.ONLINE for worker in workers):
        raise BackfillError(
            f"no worker polls work pool '{pool.name}' of deployment {deployment.name}, so its runs would wait: "
            f"start one (`prefect worker start --pool {pool.name}`), or run the dates here with --local"
        )


def _deployed(pipeline: Pipeline, deployment, variables: dict | None) -> Launch:
    """Each date a flow run of the deployment scheduled at it (its parameters: the deployment's,
    the backfill's variables over them), followed until it ends. A resumed date whose recorded run
    is still going is followed, not started again."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    declared, options = parameters_of_call(deployment.parameters)
    base = {**declared, **(options.runtime_variables or {}), **(variables or {})}
    options = replace(options, runtime_variables=None)

    def launch(run: BackfillRun, earlier: Entry | None, note: Callable[[Entry], None]) -> Entry:
        with get_client(sync_client=True) as client:
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
            while not flow_run.state.is_final():
                time.sleep(POLL_SECONDS)
                flow_run = client.read_flow_run(flow_run.id)
        state = COMPLETED if flow_run.state.is_completed() else flow_run.state.name
        return {"state": state, "flow_run_id": str(flow_run.id)}

    return launch


def _recorded(client, earlier: Entry | None):
    """The flow run an earlier backfill recorded for the date, if the server still has it."""
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_flow_run(earlier["flow_run_id"]) if (earlier or {}).get("flow_run_id") else None
    except ObjectNotFound:
        return None

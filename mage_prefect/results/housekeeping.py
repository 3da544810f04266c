"""Which stored runs may go: `mage-prefect outputs list|prune`. A run is kept while a block's latest
reads its outputs, while it goes on, and while `--resume last` would resume it; any other run older
than the retention period goes."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta

from ..project.errors import InvalidRequest
from .store import OutputStore

PERIOD = re.compile(r"(\d+)([hdw])")  # Mage's str_to_timedelta: hours, days, weeks
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def retention(period: str, what: str) -> timedelta:
    """`90d`, `12h`, `2w` as Mage reads variables_retention_period; `what` names the setting in errors."""
    match = PERIOD.fullmatch(period.strip())
    if match is None:
        raise InvalidRequest(f"{what} is {period!r}; write a whole number and a unit: h, d or w (e.g. 30d)")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    state: str
    started_at: float
    files: int
    size: int
    kept: str  # why it is kept ("" when it may go)


def stored_runs(store: OutputStore, pipeline: str, older_than: timedelta | None) -> list[StoredRun]:
    """The pipeline's recorded runs, oldest first, each with why it is kept (when it is)."""
    needed, runs = store.needed_runs(pipeline), []
    last, dead = store.runs.last_resumable(pipeline), {record.run_id for record in store.runs.dead(pipeline)}
    cutoff = time.time() - older_than.total_seconds() if older_than is not None else None
    for record in store.runs.every(pipeline):
        files = store.run_files(pipeline, record.run_id)
        if record.run_id in needed:
            kept = "a block's latest"
        elif last is not None and record.run_id == last.run_id:
            kept = f"--resume last resumes it ({'Crashed' if record.run_id in dead else record.state})"
        elif record.ended_at is None and record.run_id not in dead:
            kept = "going on"
        elif cutoff is None or (record.ended_at or record.started_at) > cutoff:
            kept = "within the retention period"
        else:
            kept = ""
        runs.append(StoredRun(record.run_id, record.state, record.started_at, len(files), sum(files.values()), kept))
    return runs


def prune(store: OutputStore, pipeline: str, older_than: timedelta) -> list[StoredRun]:
    """Delete the runs that may go, and what a killed process left half-written in the others
    (`.<file>.<pid>.<thread>.tmp`); the deleted runs."""
    return delete_unkept(store, pipeline, stored_runs(store, pipeline, older_than))


def delete_unkept(store: OutputStore, pipeline: str, runs: list[StoredRun]) -> list[StoredRun]:
    """Of `runs` (stored_runs), delete those not kept and the leftovers in the others; the deleted."""
    for run in runs:
        if not run.kept:
            store.delete_run(pipeline, run.run_id)
        elif run.kept != "going on":
            store.delete_leftovers(pipeline, run.run_id)
    return [run for run in runs if not run.kept]

"""Backfills: the runs project/backfill.py plans, each a run of the pipeline at its date, oldest
first, with a record under `<project>/.mage_prefect/backfills/` of how each ended, so that a resumed
backfill runs only the dates that did not complete."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .api import RunOutcome, run_pipeline
from .project.backfill import BackfillRun, backfill_runs
from .project.models import Project
from .project.textfile import write_atomically
from .project.validate import load_project


def record_path(project: Project, pipeline: str, start: datetime, end: datetime, every: str) -> Path:
    """The backfill's record: one per pipeline, dates and interval."""
    name = re.sub(r"[^\w.-]+", "_", f"{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{every}")
    return project.root / ".mage_prefect" / "backfills" / project.pipeline(pipeline).key / f"{name}.json"


def backfill(
    project: Project | str | Path,
    pipeline: str,
    *,
    start: datetime | str,
    end: datetime | str,
    every: str,
    variables: dict[str, Any] | None = None,
    resume: bool = False,
    on_run: Callable[[int, BackfillRun, RunOutcome | None], None] | None = None,
) -> list[tuple[BackfillRun, dict[str, Any]]]:
    """Run the pipeline once per backfill date (Mage's variables over `variables`); with `resume`,
    only the dates whose last run did not complete. Each run's end is recorded as it happens and
    given to `on_run` (None: skipped as completed). Returns each date's run and record entry."""
    project = project if isinstance(project, Project) else load_project(project, pipeline)
    runs = backfill_runs(start, end, every)
    path = record_path(project, pipeline, runs[0].execution_date, runs[-1].execution_date, every)
    record = json.loads(path.read_text()) if resume and path.is_file() else {}
    for index, run in enumerate(runs):
        key = run.execution_date.isoformat()
        if record.get(key, {}).get("state") == "Completed":
            if on_run:
                on_run(index, run, None)
            continue
        outcome = run_pipeline(
            project, pipeline, variables={**(variables or {}), **run.variables}, execution_date=run.execution_date
        )
        record[key] = {"state": "Completed" if outcome.ok else outcome.state.name, "flow_run_id": outcome.flow_run_id}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(record, indent=2).encode())
        if on_run:
            on_run(index, run, outcome)
    return [(run, record[run.execution_date.isoformat()]) for run in runs]

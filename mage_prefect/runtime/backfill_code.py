"""A backfill's runs: a date window's (project/backfill.py), or those its custom code returns — a
file whose @custom function, called as Mage calls a custom block, returns a variables dict per run."""

from __future__ import annotations

import re
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from ..project.backfill import BackfillError, BackfillRun, backfill_runs, code_runs
from ..project.errors import Diagnostic
from ..project.models import Pipeline, Project
from ..project.textfile import read_text
from .block_code import BlockCodeError, compile_block, load_block_code
from .calling import call


def planned_runs(
    project: Project,
    pipeline: Pipeline,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    every: str | None = None,
    code: str | Path | None = None,
    variables: dict[str, Any] | None = None,
) -> tuple[list[BackfillRun], Path]:
    """The backfill's runs — a date window's, or those its `code` returns (called with the
    pipeline's variables under `variables`) — and its record: one per pipeline and window or code."""
    if (code is None) == (start is None or end is None or every is None):
        raise BackfillError("give --start, --end and --every, or --code (a file returning each run's variables)")
    if code is None:
        runs = backfill_runs(start, end, every)
        name = f"{runs[0].execution_date:%Y%m%dT%H%M%S}_{runs[-1].execution_date:%Y%m%dT%H%M%S}_{every}"
    else:
        file = project.root / code
        runs, name = (
            code_runs(_call_code(file, {**pipeline.variables, **(variables or {})}), str(file)),
            f"code_{file.stem}",
        )
    safe = re.sub(r"[^\w.-]+", "_", name)
    return runs, project.root / ".mage_prefect" / "backfills" / pipeline.key / f"{safe}.json"


def _call_code(file: Path, variables: dict[str, Any]) -> Any:
    """What the file's @custom function returns, called as Mage calls a custom block."""
    source = read_text(file, python=True)
    if isinstance(source, Diagnostic):
        raise BackfillError(f"--code: {source.format()}")
    try:
        code = load_block_code(f"backfill_{file.stem}", compile_block(source, str(file)), str(file))
        return call(code.main_function("custom"), [], variables)
    except BlockCodeError as exc:
        raise BackfillError(f"--code {file}: {exc}") from None
    except Exception as exc:
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == str(file)), 1)
        raise BackfillError(f"{file}:{line}: the backfill's code raised {type(exc).__name__}: {exc}") from None

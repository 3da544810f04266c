"""A backfill's plan: its runs — a date window's (project/backfill.py), or those its custom code
returns (a file whose @custom function, called as Mage calls a custom block, returns a variables
dict per run) — their shared variables, and where its record goes. Imports no Prefect."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..project.backfill import BackfillError, BackfillRun, backfill_runs, code_runs
from ..project.errors import Diagnostic, NotFound, did_you_mean
from ..project.models import Pipeline, Project, Trigger
from ..project.textfile import read_text
from .block_code import compile_block, load_block_code
from .calling import call

UNSAFE = re.compile(r"[^\w.-]+")  # what a record's file name may not hold


@dataclass(frozen=True)
class BackfillPlan:
    runs: list[BackfillRun]
    record: Path  # one per pipeline and window, or per code file
    variables: dict[str, Any]  # every run's, under its own: the trigger's, then the backfill's


@dataclass(frozen=True)
class Window:
    """What a backfill runs over: dates from `start` to `end`, `every` apart; or a `code` file."""

    start: datetime | str | None = None
    end: datetime | str | None = None
    every: str | None = None
    code: str | Path | None = None


def plan_backfill(
    project: Project, pipeline: Pipeline, window: Window, variables: dict[str, Any], trigger: Trigger | None
) -> BackfillPlan:
    """The backfill of `pipeline` over `window`, its runs run as `trigger` (None: as the pipeline)."""
    base = {**(trigger.variables if trigger else {}), **variables}
    if (window.code is None) == (window.start is None or window.end is None or window.every is None):
        raise BackfillError("give --start, --end and --every, or --code (a file returning each run's variables)")
    if window.code is None:
        runs = backfill_runs(window.start, window.end, window.every)
        name = f"{runs[0].execution_date:%Y%m%dT%H%M%S}_{runs[-1].execution_date:%Y%m%dT%H%M%S}_{window.every}"
    else:
        file = _code_file(project, Path(window.code))
        runs = code_runs(_call_code(file, {**pipeline.variables, **base}), str(file))
        name = f"code_{(file.relative_to(project.root) if file.is_relative_to(project.root) else file).with_suffix('')}"
    record = project.root / ".mage_prefect" / "backfills" / pipeline.key / (UNSAFE.sub("_", name) + ".json")
    return BackfillPlan(runs, record, base)


def named_trigger(pipeline: Pipeline, name: str) -> Trigger:
    found = next((t for t in pipeline.triggers if name in (t.name, t.deployment_name)), None)
    if found is None:
        names = [t.name for t in pipeline.triggers]
        hint = did_you_mean(name, names) or f"its triggers: {', '.join(names) or 'none'}"
        raise NotFound(f"pipeline '{pipeline.key}' has no trigger '{name}'; {hint}")
    return found


def _code_file(project: Project, code: Path) -> Path:
    file = code if code.is_absolute() else project.root / code
    if not file.is_file():
        here = "" if code.is_absolute() or not code.is_file() else f" (it is relative to the project, {project.root})"
        raise BackfillError(f"--code {code}: no file {file}{here}")
    return file


def _call_code(file: Path, variables: dict[str, Any]) -> Any:
    """What the file's @custom function returns, called as Mage calls a custom block."""
    source = read_text(file, python=True)
    if isinstance(source, Diagnostic):
        raise BackfillError(source.format())
    try:
        code = load_block_code(f"backfill_{file.stem}", compile_block(source, str(file)), str(file))
    except SyntaxError as exc:
        raise BackfillError(f"{file}:{exc.lineno or 1}: syntax error: {exc.msg}") from None
    except BaseException as exc:
        raise _raised(file, exc, 1) from None
    functions = code.decorated.get("custom")
    if not functions:
        raise BackfillError(f"{file}: no function decorated with @custom: decorate the one that returns the runs")
    try:
        return call(functions[0], [], variables)
    except BaseException as exc:
        raise _raised(file, exc, functions[0].__code__.co_firstlineno) from None


def _raised(file: Path, exc: BaseException, line: int) -> BaseException:
    """The code's error as a BackfillError at its line in the file (a Ctrl-C stays one)."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    frames = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(file)]
    return BackfillError(f"{file}:{frames[-1] if frames else line}: the backfill's code raised {exc!r}")

"""Backfills the Mage way (Mage 0.9.80's orchestration/backfills/service.py): one pipeline run per
date from a start to an end (inclusive), each date one interval after the previous one (months and
years by calendar, so a 31st drifts to the 28th after February, as in Mage), each run with Mage's
seven backfill variables; or the runs a backfill's custom code asked for (mage-prefect's: Mage
0.9.80 records a code backfill's block but makes no runs for it). Pure: it runs nothing."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from .errors import MagePrefectError
from .parameters import as_utc

UNITS = {
    "s": "second",
    "sec": "second",
    "second": "second",
    "min": "minute",
    "minute": "minute",
    "h": "hour",
    "hour": "hour",
    "d": "day",
    "day": "day",
    "w": "week",
    "week": "week",
    "mo": "month",
    "month": "month",
    "y": "year",
    "year": "year",
}
EVERY = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")
MAX_RUNS = 10_000


class BackfillError(MagePrefectError):
    """A backfill that cannot be planned (its interval or dates)."""


@dataclass(frozen=True)
class BackfillRun:
    execution_date: datetime
    variables: dict[str, Any]  # Mage's: ds, hr, execution_date and the interval_* ones
    key: str  # the run in the backfill's record: its date, or a digest of the variables its code gave
    label: str  # the run for people: its date, or those variables


def parse_every(text: str) -> tuple[str, int]:
    """`2d`, `6h`, `30min`, `1w`, `1mo`, `1y` (or `2 days` …) as Mage's (interval_type, interval_units)."""
    found = EVERY.match(text.lower())
    unit = UNITS.get(found.group(2)) if found else None
    if unit is None or int(found.group(1)) < 1:
        raise BackfillError(
            f"--every {text!r} is not an interval: give a whole number ≥ 1 and a unit, e.g. 2d, 6h, 30min, 1w, 1mo, 1y"
        )
    return unit, int(found.group(1))


def backfill_dates(start: datetime, end: datetime, interval_type: str, units: int) -> list[datetime]:
    """Mage's `__build_dates`: from `start`, each date one interval after the previous, while ≤ `end`."""
    step = relativedelta(**{f"{interval_type}s": units}) if interval_type in ("month", "year") else None
    delta = timedelta(**{f"{interval_type}s": units}) if step is None else None
    dates, current = [], start
    while current <= end:
        if len(dates) == MAX_RUNS:
            raise BackfillError(f"the backfill would start more than {MAX_RUNS:,} runs: use a longer --every")
        dates.append(current)
        current = current + (delta if step is None else step)
    return dates


def backfill_runs(start: datetime | str, end: datetime | str, every: str) -> list[BackfillRun]:
    """Every run of the backfill, with Mage's `__build_variables_list` variables (date-times in UTC)."""
    start, end = _date(start, "--start"), _date(end, "--end")
    if start > end:
        raise BackfillError(f"--start {start.isoformat()} is after --end {end.isoformat()}: nothing to backfill")
    dates = backfill_dates(start, end, *parse_every(every))
    return [
        BackfillRun(date, _variables(dates, index), date.isoformat(), date.isoformat())
        for index, date in enumerate(dates)
    ]


def code_runs(returned: Any, where: str) -> list[BackfillRun]:
    """A run per variables dict that the backfill's code (`where`) returned, keyed by those
    variables (a resumed backfill finds a run whatever its place in the list); each runs at its
    `execution_date` if it has one, else now."""
    if not isinstance(returned, list | tuple) or not all(isinstance(item, dict) for item in returned):
        raise BackfillError(
            f"{where} returned {type(returned).__name__}, not a list of dicts: return one dict of variables per run"
        )
    if not returned:
        raise BackfillError(f"{where} returned an empty list: nothing to backfill")
    if len(returned) > MAX_RUNS:
        raise BackfillError(f"{where} returned {len(returned):,} runs, more than {MAX_RUNS:,}")
    now, seen, runs = datetime.now(UTC), Counter(), []
    for index, variables in enumerate(returned):
        try:
            text = json.dumps(variables, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise BackfillError(
                f"{where}[{index}] holds a value that is not JSON ({exc}): a run's variables are strings, numbers, "
                "booleans, None, lists and dicts"
            ) from None
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        seen[digest] += 1
        date = (
            _date(variables["execution_date"], f"{where}[{index}].execution_date")
            if "execution_date" in variables
            else now
        )
        key = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"  # the same variables twice: two runs
        runs.append(BackfillRun(date, variables, key, text if len(text) <= 80 else text[:77] + "..."))
    return runs


def _date(value: datetime | str, option: str) -> datetime:
    try:
        return as_utc(value)
    except (ValueError, TypeError, AttributeError):
        raise BackfillError(
            f"{option} {value!r} is not an ISO date-time: give e.g. 2023-01-01T03:00 (UTC) or 2023-01-01T03:00+02:00"
        ) from None


def _variables(dates: list[datetime], index: int) -> dict[str, Any]:
    """A run's interval: to the next date; the last run's as long as the one before it."""
    start, end, seconds = dates[index], None, None
    if index < len(dates) - 1:
        end = dates[index + 1]
        seconds = end.timestamp() - start.timestamp()
    elif index >= 1:
        seconds = start.timestamp() - dates[index - 1].timestamp()
        end = start + timedelta(seconds=seconds)
    previous = start - timedelta(seconds=seconds) if seconds else None
    return dict(
        ds=start.strftime("%Y-%m-%d"),
        execution_date=start.isoformat(),
        hr=start.strftime("%H"),
        interval_end_datetime=end.isoformat() if end else None,
        interval_seconds=seconds,
        interval_start_datetime=start.isoformat(),
        interval_start_datetime_previous=previous.isoformat() if previous else None,
    )

"""Mage's `interval_*` kwargs of a run (PipelineRun.get_variables, mage-format.md §3.5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from dateutil import parser
from dateutil.relativedelta import relativedelta

KEYS = ("interval_end_datetime", "interval_seconds", "interval_start_datetime", "interval_start_datetime_previous")
PRESET_SECONDS = {"@hourly": 3600, "@daily": 86400, "@weekly": 7 * 86400}


def interval_kwargs(
    variables: dict[str, Any], execution_date: datetime, schedule_interval: str | None
) -> dict[str, Any]:
    """The four interval kwargs, as Mage computes them.

    - Values given in the variables win, and then only those are set (date strings are parsed with
      dateutil; one it cannot parse stays a string, as in Mage).
    - A time trigger's run: computed from its `schedule_interval` (presets, or cron via croniter).
    - Any other run: the interval starts at the execution date and the rest is None.
    """
    given = {key: variables[key] for key in KEYS if variables.get(key)}
    if given:
        return {key: _parsed(value) if key != "interval_seconds" else value for key, value in given.items()}
    start, end, seconds = execution_date, None, None
    if schedule_interval in PRESET_SECONDS:
        seconds = PRESET_SECONDS[schedule_interval]
    elif schedule_interval == "@monthly":
        end = start + relativedelta(months=1)
        seconds = end.timestamp() - start.timestamp()
    elif schedule_interval and not schedule_interval.startswith("@"):
        schedule = croniter(schedule_interval, start)
        schedule.get_prev()
        schedule.get_next()  # back where Mage's iterator is before it steps forward
        end = schedule.get_next(datetime)
        seconds = end.timestamp() - start.timestamp()
    if seconds and end is None:
        end = start + timedelta(seconds=seconds)
    return {
        "interval_end_datetime": end,
        "interval_seconds": seconds,
        "interval_start_datetime": start,
        "interval_start_datetime_previous": start - timedelta(seconds=seconds) if seconds else None,
    }


def _parsed(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parser.parse(value)
    except (ValueError, OverflowError):
        return value

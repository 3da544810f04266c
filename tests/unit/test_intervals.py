"""runtime/intervals.py: Mage's interval_* kwargs (PipelineRun.get_variables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mage_prefect.runtime.intervals import interval_kwargs

UTC = UTC


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("preset, seconds", [("@hourly", 3600), ("@daily", 86400), ("@weekly", 604800)])
def test_presets_give_a_fixed_interval_around_the_execution_date(preset, seconds):
    start = at(2026, 3, 4, 5)
    kwargs = interval_kwargs({}, start, preset)
    assert kwargs == {
        "interval_start_datetime": start,
        "interval_end_datetime": start + timedelta(seconds=seconds),
        "interval_seconds": seconds,
        "interval_start_datetime_previous": start - timedelta(seconds=seconds),
    }


def test_monthly_ends_a_calendar_month_later():
    kwargs = interval_kwargs({}, at(2026, 2, 1), "@monthly")
    assert kwargs["interval_end_datetime"] == at(2026, 3, 1)
    assert kwargs["interval_seconds"] == 28 * 86400
    assert kwargs["interval_start_datetime_previous"] == at(2026, 1, 4)  # start - seconds, as Mage does


def test_cron_interval_runs_to_the_next_fire_time():
    # Mage's own test: */10 at 12:10 → 12:20, 600 s, previous 12:00
    kwargs = interval_kwargs({}, at(2023, 10, 11, 12, 10), "*/10 * * * *")
    assert kwargs["interval_end_datetime"] == at(2023, 10, 11, 12, 20)
    assert kwargs["interval_seconds"] == 600
    assert kwargs["interval_start_datetime_previous"] == at(2023, 10, 11, 12, 0)


@pytest.mark.parametrize("interval", [None, "@once", "@always_on"])
def test_other_runs_start_at_the_execution_date_only(interval):
    start = at(2026, 1, 1)
    assert interval_kwargs({}, start, interval) == {
        "interval_start_datetime": start,
        "interval_end_datetime": None,
        "interval_seconds": None,
        "interval_start_datetime_previous": None,
    }


def test_values_given_as_variables_win_and_only_those_are_set():
    kwargs = interval_kwargs(
        {
            "interval_start_datetime": "2024-05-16T07:00:00Z",
            "interval_seconds": 30,
            "interval_end_datetime": "not a date",
        },
        at(2026, 1, 1),
        "@daily",
    )
    # date strings parsed with dateutil; one it cannot parse stays as given (Mage logs it)
    assert kwargs == {
        "interval_start_datetime": at(2024, 5, 16, 7),
        "interval_seconds": 30,
        "interval_end_datetime": "not a date",
    }

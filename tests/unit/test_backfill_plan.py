"""Backfill planning (project/backfill.py): intervals, Mage's inclusive end and month drift, and the
errors a user gets instead of a hang (the compat tier compares whole plans with Mage's)."""

from __future__ import annotations

import pytest

from mage_prefect.project.backfill import BackfillError, backfill_runs, parse_every


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("2d", ("day", 2)), ("6h", ("hour", 6)), ("30min", ("minute", 30)), ("1w", ("week", 1)), ("1mo", ("month", 1))]
    + [("1y", ("year", 1)), ("2 days", ("day", 2)), ("3 mins", ("minute", 3)), ("10s", ("second", 10))],
)
def test_intervals_read_as_mages_interval_types(text, parsed):
    assert parse_every(text) == parsed


@pytest.mark.parametrize("text", ["0d", "d", "2", "2m", "-1d", "two days"])
def test_a_bad_interval_is_refused_with_examples(text):
    with pytest.raises(BackfillError, match="is not an interval: give a whole number ≥ 1 and a unit"):
        parse_every(text)


def test_the_end_is_a_run_date_and_months_drift_from_the_previous_date():
    dates = [run.execution_date.date().isoformat() for run in backfill_runs("2023-01-31", "2023-04-28", "1mo")]
    assert dates == ["2023-01-31", "2023-02-28", "2023-03-28", "2023-04-28"]


def test_dates_without_an_offset_are_utc_and_others_are_converted():
    runs = backfill_runs("2023-01-01T05:00+02:00", "2023-01-01T04:00", "1h")
    assert [run.variables["execution_date"] for run in runs] == [
        "2023-01-01T03:00:00+00:00",
        "2023-01-01T04:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("start", "end", "every", "message"),
    [
        ("2023-01-02", "2023-01-01", "1d", "is after --end"),
        ("soon", "2023-01-01", "1d", "--start 'soon' is not an ISO date-time"),
        ("2000-01-01", "2030-01-01", "1min", "more than 10,000 runs"),
    ],
)
def test_a_window_that_cannot_be_backfilled_says_why(start, end, every, message):
    with pytest.raises(BackfillError, match=message):
        backfill_runs(start, end, every)

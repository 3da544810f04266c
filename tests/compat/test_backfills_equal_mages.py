"""Differential: a backfill's runs — their dates and the variables each run gets — are the ones
Mage's backfill service builds for the same window and interval (service.__build_variables_list)."""

from __future__ import annotations

import pytest

from mage_prefect.project.backfill import backfill_runs
from tests.compat.conftest import mage

CASES = [  # start, end, --every, Mage's interval_type and units
    ("2023-01-01T03:00:00+00:00", "2023-01-05T03:00:00+00:00", "2d", "day", 2),  # Mage's documented example
    ("2023-01-31T00:00:00+00:00", "2023-05-31T00:00:00+00:00", "1mo", "month", 1),  # month ends drift to the 28th
    ("2024-02-29T12:00:00+00:00", "2027-03-01T00:00:00+00:00", "1y", "year", 1),  # a leap day
    ("2023-03-11T22:00:00+00:00", "2023-03-12T12:00:00+00:00", "6h", "hour", 6),  # across the US DST change
    ("2023-12-25T00:00:00+00:00", "2024-01-15T00:00:00+00:00", "1w", "week", 1),
    ("2023-01-01T00:00:00+00:00", "2023-01-01T01:00:00+00:00", "15min", "minute", 15),
    ("2023-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00", "1d", "day", 1),  # one date
    ("2023-01-01T00:00:00+00:00", "2023-01-01T23:59:59+00:00", "1d", "day", 1),  # the end is not a run date
]


@pytest.mark.parametrize(
    ("start", "end", "every", "interval_type", "units"), CASES, ids=[c[2] + ":" + c[0] for c in CASES]
)
def test_a_backfill_plans_the_runs_mage_plans(start, end, every, interval_type, units):
    theirs = mage("backfill-plan", start, end, interval_type, str(units))["runs"]
    ours = backfill_runs(start, end, every)
    assert [run.variables for run in ours] == theirs
    assert [run.execution_date.isoformat() for run in ours] == [run["execution_date"] for run in theirs]

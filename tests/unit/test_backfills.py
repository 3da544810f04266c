"""A backfill before anything runs: the runs custom code asks for, and the refusals — a trigger the
pipeline does not have, a concurrency below 1, code that returns no runs (the e2e tier runs
backfills on a server, locally and on a worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mage_prefect.backfills import backfill
from mage_prefect.project.backfill import BackfillError
from mage_prefect.project.errors import NotFound
from mage_prefect.project.validate import load_project
from mage_prefect.runtime.backfill_code import planned_runs

PROJECT = Path(__file__).parents[1] / "e2e" / "projects" / "scheduled"
WINDOW = dict(start="2023-01-01", end="2023-01-03", every="1d")


def test_an_unknown_trigger_is_refused_with_a_suggestion():
    with pytest.raises(NotFound, match="pipeline 'hello' has no trigger 'nightlly'; did you mean 'nightly'"):
        backfill(PROJECT, "hello", trigger="nightlly", **WINDOW)


def test_a_concurrency_below_one_is_refused():
    with pytest.raises(BackfillError, match="--concurrency 0: give at least 1"):
        backfill(PROJECT, "hello", concurrency=0, **WINDOW)


BACKFILLED = Path(__file__).parents[1] / "e2e" / "projects" / "backfilled"


def _planned(**options):
    project = load_project(BACKFILLED, "daily")
    return planned_runs(project, project.pipeline("daily"), **options)


def test_custom_code_gives_a_run_per_variables_dict_it_returns():
    runs, record = _planned(code="backfills/regions.py", variables={"skip": "us"})
    assert [(run.key, run.variables["region"]) for run in runs] == [("00000", "eu"), ("00001", "apac")]
    assert {run.execution_date.isoformat() for run in runs} == {"2023-02-01T06:00:00+00:00"}
    assert record == BACKFILLED / ".mage_prefect" / "backfills" / "daily" / "code_regions.json"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return {'region': 'eu'}", r"regions.py returned dict, not a list of dicts: return one dict of variables"),
        ("return []", r"regions.py returned an empty list: nothing to backfill"),
        ("return [{'execution_date': 'soon'}]", r"regions.py\[0\].execution_date 'soon' is not an ISO date-time"),
        ("raise KeyError('region')", r"regions.py:3: the backfill's code raised KeyError: 'region'"),
    ],
)
def test_custom_code_that_returns_no_runs_is_refused_with_its_file(tmp_path, body, message):
    (tmp_path / "regions.py").write_text(f"@custom\ndef regions(**kwargs):\n    {body}\n")
    with pytest.raises(BackfillError, match=message):
        _planned(code=tmp_path / "regions.py")


def test_a_backfill_needs_a_window_or_code_not_both():
    with pytest.raises(BackfillError, match="give --start, --end and --every, or --code"):
        _planned(start="2023-01-01", end="2023-01-02")
    with pytest.raises(BackfillError, match="give --start, --end and --every, or --code"):
        _planned(code="backfills/regions.py", **WINDOW)

"""A backfill before anything runs: the runs custom code asks for, and the refusals — a trigger the
pipeline does not have, a concurrency below 1, code that returns no runs or fails, a record that is
not one (the e2e tier runs backfills on a server, locally and on a worker)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mage_prefect.backfills import backfill
from mage_prefect.project.backfill import BackfillError
from mage_prefect.project.errors import NotFound
from mage_prefect.project.validate import load_project
from mage_prefect.runtime.backfill_plan import Window, plan_backfill

PROJECT = Path(__file__).parents[1] / "e2e" / "projects" / "scheduled"
BACKFILLED = Path(__file__).parents[1] / "e2e" / "projects" / "backfilled"
WINDOW = Window(start="2023-01-01", end="2023-01-03", every="1d")
REGIONS = Window(code="backfills/regions.py")


def test_an_unknown_trigger_is_refused_with_a_suggestion():
    with pytest.raises(NotFound, match="pipeline 'hello' has no trigger 'nightlly'; did you mean 'nightly'"):
        backfill(PROJECT, "hello", WINDOW, trigger="nightlly")


def test_a_concurrency_below_one_is_refused():
    with pytest.raises(BackfillError, match="--concurrency 0: give at least 1"):
        backfill(PROJECT, "hello", WINDOW, concurrency=0)


def _plan(window: Window, root: Path = BACKFILLED, **variables):
    project = load_project(root, "daily")
    return plan_backfill(project, project.pipeline("daily"), window, variables, None)


def test_custom_code_gives_a_run_per_variables_dict_it_returns_keyed_by_them():
    plan = _plan(REGIONS, skip="us")
    assert [run.variables["region"] for run in plan.runs] == ["eu", "apac"]
    assert {run.execution_date.isoformat() for run in plan.runs} == {"2023-02-01T06:00:00+00:00"}
    assert plan.runs[0].label == '{"ds": "2023-02-01", "execution_date": "2023-02-01T06:00", "region": "eu"}'
    assert plan.record == BACKFILLED / ".mage_prefect" / "backfills" / "daily" / "code_backfills_regions.json"
    # a run keeps its key wherever it is in the list: a resumed backfill finds it by its variables
    assert {run.variables["region"]: run.key for run in _plan(REGIONS, skip="eu").runs}["apac"] == plan.runs[1].key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return {'region': 'eu'}", r"regions.py returned dict, not a list of dicts: return one dict of variables"),
        ("return []", r"regions.py returned an empty list: nothing to backfill"),
        ("return [{'execution_date': 'soon'}]", r"regions.py\[0\].execution_date 'soon' is not an ISO date-time"),
        ("return [{'at': object()}]", r"regions.py\[0\] holds a value that is not JSON"),
        ("raise KeyError('region')", r"regions.py:3: the backfill's code raised KeyError\('region'\)"),
        ("raise SystemExit(3)", r"regions.py:3: the backfill's code raised SystemExit\(3\)"),
        ("return [\n    {'a': 1},\n  }", r"regions.py:5: syntax error"),
    ],
)
def test_custom_code_that_gives_no_runs_is_refused_at_its_line(tmp_path, body, message):
    (tmp_path / "regions.py").write_text(f"@custom\ndef regions(**kwargs):\n    {body}\n")
    with pytest.raises(BackfillError, match=message):
        _plan(Window(code=tmp_path / "regions.py"))


def test_code_without_a_custom_function_or_file_is_refused(tmp_path):
    (tmp_path / "plain.py").write_text("def regions():\n    return [{}]\n")
    with pytest.raises(BackfillError, match=r"plain.py: no function decorated with @custom"):
        _plan(Window(code=tmp_path / "plain.py"))
    with pytest.raises(BackfillError, match=r"--code backfills/nope.py: no file .*backfilled/backfills/nope.py"):
        _plan(Window(code="backfills/nope.py"))


def test_a_backfill_needs_a_window_or_code_not_both():
    with pytest.raises(BackfillError, match="give --start, --end and --every, or --code"):
        _plan(Window(start="2023-01-01", end="2023-01-02"))
    with pytest.raises(BackfillError, match="give --start, --end and --every, or --code"):
        _plan(Window(start="2023-01-01", end="2023-01-02", every="1d", code="backfills/regions.py"))


def test_a_record_that_is_not_one_is_refused_naming_it(tmp_path):
    root = Path(shutil.copytree(BACKFILLED, tmp_path / "backfilled"))
    record = _plan(WINDOW, root).record
    record.parent.mkdir(parents=True)
    record.write_text("{not json")
    with pytest.raises(BackfillError, match=r"daily/20230101T000000_20230103T000000_1d.json is not a backfill record"):
        backfill(root, "daily", WINDOW, resume=True, local=True)

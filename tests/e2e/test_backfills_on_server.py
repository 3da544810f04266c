"""`mage-prefect backfill` on a real Prefect server: Mage's example window (three runs, each with its
execution date and interval kwargs), a failed date, and a resumed backfill that reruns only it."""

from __future__ import annotations

import json
import os

import pytest

from mage_prefect.api import get_outputs

from .conftest import HERE, copy_project, mage_prefect

pytestmark = pytest.mark.e2e
WINDOW = ["--start", "2023-01-01T03:00", "--end", "2023-01-05T03:00", "--every", "2d"]


def test_a_backfill_runs_each_date_and_a_resumed_one_only_the_failed_date(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "backfilled", tmp_path_factory)

    failing = mage_prefect("backfill", project, "daily", *WINDOW, env={**os.environ, "FAIL_ON_DS": "2023-01-03"})

    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "[3/3] 2023-01-05T03:00:00+00:00 Completed" in failing.stdout  # a failed date does not stop the rest
    assert "1 run(s) did not complete: rerun them with --resume" in failing.stdout
    records = list((project / ".mage_prefect" / "backfills" / "daily").glob("*.json"))
    first = json.loads(records[0].read_text())
    assert [entry["state"] for entry in first.values()] == ["Completed", "Failed", "Completed"]

    resumed = mage_prefect("backfill", project, "daily", *WINDOW, "--var", "region=us", "--resume")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stdout.count("Completed (earlier)") == 2
    record = json.loads(records[0].read_text())
    assert record["2023-01-01T03:00:00+00:00"] == first["2023-01-01T03:00:00+00:00"]  # not run again
    stamps = [get_outputs(project, "daily", "stamp", run=entry["flow_run_id"])[0] for entry in record.values()]
    assert stamps == [
        {
            "ds": "2023-01-01",
            "hr": "03",
            "execution_date": "2023-01-01 03:00:00+00:00",
            "interval_start_datetime": "2023-01-01 03:00:00+00:00",
            "interval_end_datetime": "2023-01-03 03:00:00+00:00",
            "interval_seconds": "172800.0",
            "region": "eu",
        },
        {
            "ds": "2023-01-03",
            "hr": "03",
            "execution_date": "2023-01-03 03:00:00+00:00",
            "interval_start_datetime": "2023-01-03 03:00:00+00:00",
            "interval_end_datetime": "2023-01-05 03:00:00+00:00",
            "interval_seconds": "172800.0",
            "region": "us",  # the resumed run's --var
        },
        {
            "ds": "2023-01-05",
            "hr": "03",
            "execution_date": "2023-01-05 03:00:00+00:00",
            "interval_start_datetime": "2023-01-05 03:00:00+00:00",
            "interval_end_datetime": "2023-01-07 03:00:00+00:00",  # as Mage: the last run's interval repeats
            "interval_seconds": "172800.0",
            "region": "eu",
        },
    ]


def test_a_backfill_with_a_bad_interval_says_so_and_runs_nothing(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "backfilled", tmp_path_factory)
    done = mage_prefect("backfill", project, "daily", "--start", "2023-01-01", "--end", "2023-01-02", "--every", "0d")
    assert done.returncode == 1
    assert "--every '0d' is not an interval" in done.stderr and "Traceback" not in done.stderr
    assert not (project / ".mage_prefect" / "backfills").exists()

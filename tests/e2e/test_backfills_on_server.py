"""`mage-prefect backfill` on a real Prefect server: Mage's example window (three runs, each with its
execution date and interval kwargs), a failed date, and a resumed backfill that reruns only it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from mage_prefect.api import get_outputs

from .conftest import BIN, HERE, copy_project, mage_prefect, stop_session

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


def test_a_backfill_with_concurrency_runs_dates_at_the_same_time(prefect_server, tmp_path_factory):
    from prefect.client.orchestration import get_client

    project = copy_project(HERE / "projects" / "backfilled", tmp_path_factory)
    window = ["--start", "2023-01-01", "--end", "2023-01-02", "--every", "1d", "--concurrency", "2"]

    done = mage_prefect("backfill", project, "daily", *window, env={**os.environ, "STAMP_SECONDS": "3"})

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 run(s) to make, in this process" in done.stderr
    record = json.loads(next((project / ".mage_prefect" / "backfills" / "daily").glob("*.json")).read_text())
    with get_client(sync_client=True) as client:
        first, second = (client.read_flow_run(entry["flow_run_id"]) for entry in record.values())
    assert first.start_time < second.end_time and second.start_time < first.end_time  # they overlapped
    stamps = [get_outputs(project, "daily", "stamp", run=entry["flow_run_id"])[0]["ds"] for entry in record.values()]
    assert stamps == ["2023-01-01", "2023-01-02"]


DEPLOYED_POOL = "mage-prefect-backfills"
TRIGGERS = """\
triggers:
- name: nightly
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2026-01-01 00:00:00
  status: inactive
  variables:
    region: apac
- name: on_demand
  schedule_type: api
  schedule_interval: null
  start_time: null
  status: active
"""


def test_a_deployed_pipeline_is_backfilled_as_flow_runs_its_worker_runs(prefect_server, tmp_path_factory):
    from prefect.client.orchestration import get_client

    project = copy_project(HERE / "projects" / "backfilled", tmp_path_factory, name="backfilled_deployed")
    (project / "pipelines" / "daily" / "triggers.yaml").write_text(TRIGGERS)
    deployed = mage_prefect("deploy", project, "--out", "deployments", "--work-pool", DEPLOYED_POOL, cwd=project.parent)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    ambiguous = mage_prefect("backfill", project, "daily", *WINDOW)
    assert ambiguous.returncode == 1 and "Traceback" not in ambiguous.stderr
    assert "has several deployments on the server (nightly, on_demand): name the trigger with --trigger" in (
        ambiguous.stderr
    )
    unpolled = mage_prefect("backfill", project, "daily", *WINDOW, "--trigger", "nightly")
    assert f"no worker polls work pool '{DEPLOYED_POOL}' of deployment nightly" in unpolled.stderr

    later = mage_prefect(
        "backfill",
        project,
        "daily",
        "--start",
        "2099-01-01",
        "--end",
        "2099-01-02",
        "--every",
        "1d",
        "--trigger",
        "nightly",
    )
    assert "2 run(s) are after now (the first at 2099-01-01T00:00:00+00:00): as flow runs" in later.stderr

    worker = _worker(project.parent / "deployments", STAMP_SECONDS="4")
    try:
        interrupted = _interrupted_once_scheduled(project, *WINDOW, "--trigger", "nightly", "--concurrency", "3")
        done = mage_prefect("backfill", project, "daily", *WINDOW, "--trigger", "nightly", "--resume")
    finally:
        stop_session(worker)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 3 run(s) to make, as flow runs of deployment daily/nightly" in done.stderr
    record = json.loads(next((project / ".mage_prefect" / "backfills" / "daily").glob("*.json")).read_text())
    # the resumed backfill followed the flow runs the interrupted one had scheduled: none was made twice
    assert [entry["flow_run_id"] for entry in record.values()] == [entry["flow_run_id"] for entry in interrupted]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("daily/nightly")
        flow_runs = [client.read_flow_run(entry["flow_run_id"]) for entry in record.values()]
    assert [run.deployment_id for run in flow_runs] == [deployment.id] * 3
    assert [run.expected_start_time.isoformat() for run in flow_runs] == list(record)  # scheduled at the dates
    assert all("backfill" in run.tags for run in flow_runs)
    stamps = [get_outputs(project, "daily", "stamp", run=str(run.id))[0] for run in flow_runs]
    assert [(s["ds"], s["interval_seconds"], s["region"]) for s in stamps] == [
        ("2023-01-01", "172800.0", "apac"),  # the trigger's variables
        ("2023-01-03", "172800.0", "apac"),
        ("2023-01-05", "172800.0", "apac"),
    ]
    here = mage_prefect(
        "backfill",
        project,
        "daily",
        "--start",
        "2023-03-01",
        "--end",
        "2023-03-01",
        "--every",
        "1d",
        "--trigger",
        "nightly",
        "--local",
    )
    assert here.returncode == 0 and "1 of 1 run(s) to make, in this process" in here.stderr, here.stdout + here.stderr


def _interrupted_once_scheduled(project, *args: str) -> list[dict]:
    """The record of a backfill given Ctrl-C once it has scheduled all its flow runs."""
    command = [str(BIN / "mage-prefect"), "backfill", str(project), "daily", *args]
    # as a terminal's Ctrl-C reaches it: a shell's background job (CI's, say) starts with SIGINT ignored
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    folder, deadline = project / ".mage_prefect" / "backfills" / "daily", time.monotonic() + 120
    while len(entries := _entries(folder)) < 3 or any(not entry.get("flow_run_id") for entry in entries):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "interrupted (recorded in" in err and "rerun with --resume" in err and "Traceback" not in err, err
    return _entries(folder)


def _entries(folder) -> list[dict]:
    records = list(folder.glob("*.json")) if folder.is_dir() else []
    return list(json.loads(records[0].read_text()).values()) if records else []


def _worker(folder, **env: str):
    """A process worker on the pool, in the compiled folder (where the pull step runs flows), once online."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import WorkerStatus

    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1", **env}
    command = [str(BIN / "prefect"), "worker", "start", "--pool", DEPLOYED_POOL, "--type", "process"]
    log = open(folder / "worker.log", "wb")
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while not any(w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool(DEPLOYED_POOL)):
            assert time.monotonic() < deadline and process.poll() is None, (folder / "worker.log").read_text()
            time.sleep(0.5)
    return process


def test_a_custom_code_backfill_runs_once_per_variables_dict(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "backfilled", tmp_path_factory)

    done = mage_prefect("backfill", project, "daily", "--code", "backfills/regions.py", "--var", "skip=eu")

    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((project / ".mage_prefect" / "backfills" / "daily" / "code_backfills_regions.json").read_text())
    stamps = [get_outputs(project, "daily", "stamp", run=entry["flow_run_id"])[0] for entry in record.values()]
    assert [(s["region"], s["ds"], s["execution_date"]) for s in stamps] == [
        ("us", "2023-02-01", "2023-02-01 06:00:00+00:00"),
        ("apac", "2023-02-01", "2023-02-01 06:00:00+00:00"),
    ]

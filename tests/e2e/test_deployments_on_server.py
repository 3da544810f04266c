"""Triggers → deployments: compile, `prefect deploy`, a process worker, REST/event/cron runs, plan/prune."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from mage_prefect import get_output, run_pipeline

from .conftest import BIN, HERE, mage_prefect, prefect_deploy, stop_session

pytestmark = pytest.mark.e2e
POOL = "mage-prefect-tests"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, prefect_server) -> Path:
    """A checkout-like folder: the Mage project and, next to it, its compiled deployments."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(HERE / "projects" / "scheduled", root / "scheduled")
    compiled = mage_prefect("compile", "scheduled", "--out", "deployments", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    return root


@pytest.fixture(scope="module")
def deployed(workdir, prefect_server) -> Path:
    """`prefect deploy --all` on the compiled output, non-interactively, as CI would."""
    env = dict(os.environ)
    subprocess.run(
        [str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    prefect_deploy(workdir / "deployments")
    return workdir


@pytest.fixture(scope="module")
def worker(deployed, webhook):
    """A process worker polling the pool every second, started where the pull step expects."""
    env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
    log = open(deployed / "worker.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
        cwd=deployed,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    stop_session(process)
    log.close()


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _wait_final(flow_run_id, timeout: float = 120):
    deadline = time.monotonic() + timeout
    with _client() as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state and run.state.is_final():
                return run
            time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not finish in {timeout} s")


def test_every_trigger_became_a_deployment(deployed):
    with _client() as client:
        ours = [d for d in client.read_deployments() if "mage-prefect-project:scheduled" in d.tags]  # not other tests'
        names = {d.name: d for d in ours}
        assert {"every_minute", "nightly", "new_year", "on_demand", "on_event", "guarded", "api"} <= set(names)
        assert client.read_flow(names["on_demand"].flow_id).name == "hello"
        assert names["on_demand"].parameters == {"greeting": "hi", "runtime_variables": {"audience": "api callers"}}
        assert [s.active for s in names["nightly"].schedules] == [False]  # status: inactive
        assert names["guarded"].global_concurrency_limit.limit == 1
        assert {"mage-prefect", "mage-prefect-project:scheduled", "team-data"} <= set(names["api"].tags)


def test_deployment_runs_emit_heartbeats(deployed):
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/every_minute")
    assert deployment.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"


def test_cron_deployment_has_runs_scheduled_on_the_minute(deployed):
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/every_minute")
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        deadline, runs = time.monotonic() + 60, []
        while time.monotonic() < deadline and len(runs) < 2:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
            time.sleep(1)
    starts = sorted(run.expected_start_time for run in runs)
    assert len(starts) >= 2
    assert all(start.second == 0 and start.microsecond == 0 for start in starts)
    assert (starts[1] - starts[0]).total_seconds() == 60


def test_rest_api_run_executes_on_the_worker_with_its_parameters(deployed, worker, prefect_server, webhook):
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/on_demand")
    response = httpx.post(
        f"{prefect_server}/deployments/{deployment.id}/create_flow_run", json={"parameters": {"greeting": "from rest"}}
    )
    assert response.status_code == 201, response.text

    run = _wait_final(response.json()["id"])

    assert run.state.is_completed(), run.state.message
    output = get_output(deployed / "scheduled", "hello", "greet", run=str(run.id))
    assert output == {
        "greeting": "from rest",
        "audience": "api callers",
        "env": "prod",
        "trigger_name": "on_demand",
        "event": {},
        "source": None,
        "interval_seconds": None,
        "interval_span": None,
    }  # not a time trigger
    # the project's notification_config: a success message for the trigger run, from its template
    assert {"text": f"hello ran for trigger on_demand: {prefect_server[:-4]}/runs/flow-run/{run.id}"} in webhook
    # the outputs artifact comes from the worker's flow process too (sent from a thread it waits for)
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    deadline, artifacts = time.monotonic() + 15, []
    with _client() as client:
        while not artifacts and time.monotonic() < deadline:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            time.sleep(0.3)
    assert [artifact.key for artifact in artifacts] == ["hello-outputs"]
    # a run that no trigger started (the CLI, the Python API) sends nothing, as in Mage
    assert run_pipeline(deployed / "scheduled", "hello").ok
    assert not [message for message in webhook if "for trigger None" in message["text"]]


def test_a_time_trigger_run_gets_its_schedule_interval(deployed, worker, prefect_server):
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/nightly")  # @daily
    response = httpx.post(f"{prefect_server}/deployments/{deployment.id}/create_flow_run", json={})
    assert response.status_code == 201, response.text

    run = _wait_final(response.json()["id"])

    assert run.state.is_completed(), run.state.message
    output = get_output(deployed / "scheduled", "hello", "greet", run=str(run.id))
    assert output["trigger_name"] == "nightly" and output["greeting"] == "good night"
    assert output["interval_seconds"] == 86400 and output["interval_span"] == 2 * 86400


def test_emitted_event_runs_the_event_trigger(deployed, worker):
    emitted = mage_prefect(
        "emit",
        "scheduled",
        "hello",
        "--var",
        "greeting=from an event",
        "--payload",
        '{"source": "sensor-42"}',
        cwd=deployed,
    )
    assert emitted.returncode == 0, emitted.stderr

    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline, runs = time.monotonic() + 60, []
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/on_event")
        while time.monotonic() < deadline and not runs:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
            time.sleep(0.5)
    assert runs, "the event did not start a run"
    run = _wait_final(runs[0].id)
    assert run.state.is_completed(), run.state.message
    output = get_output(deployed / "scheduled", "hello", "greet", run=str(run.id))
    assert output["greeting"] == "from an event" and output["source"] == "sensor-42"
    assert output["audience"] == "event listeners"  # the trigger's own variables, under the event's
    assert output["event"] == {"source": "sensor-42", "variables": {"greeting": "from an event"}}
    assert output["trigger_name"] == "on_event"


def test_scheduled_runs_before_the_triggers_start_time_run_no_block(deployed, worker):
    with _client() as client:
        deployment = client.read_deployment_by_name("hello/not_yet")  # every minute, from 2099 on
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        deadline, finished = time.monotonic() + 150, []
        while time.monotonic() < deadline and not finished:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            )
            finished = [run for run in runs if run.state and run.state.is_final()]
            time.sleep(1)
    assert finished, "the scheduler's first run did not finish"
    run = finished[0]
    assert run.state.is_completed() and run.state.name == "Skipped"
    assert "before the start_time of trigger 'not_yet' (2099-01-01 00:00 UTC)" in run.state.message
    with pytest.raises(LookupError):  # no block ran
        get_output(deployed / "scheduled", "hello", "greet", run=str(run.id))


def test_plan_then_prune_change_only_what_changed(deployed, worker):
    triggers = deployed / "scheduled" / "pipelines" / "hello" / "triggers.yaml"
    config = yaml.safe_load(triggers.read_text())
    config["triggers"] = [t for t in config["triggers"] if t["name"] != "guarded"]
    config["triggers"].append(
        {
            "name": "kickoff",
            "schedule_type": "time",
            "status": "active",
            "schedule_interval": "@daily",
            "start_time": datetime(2026, 1, 1),
            "settings": {"create_initial_pipeline_run": True},
        }
    )
    next(t for t in config["triggers"] if t["name"] == "on_demand")["variables"]["greeting"] = "hey"
    nightly = next(t for t in config["triggers"] if t["name"] == "nightly")
    nightly.update(schedule_type="api", schedule_interval=None)  # no longer scheduled
    triggers.write_text(yaml.safe_dump(config))

    planned = mage_prefect("deploy", "scheduled", "--out", "deployments", "--plan", cwd=deployed)
    assert planned.returncode == 0, planned.stderr
    assert "~ update hello/on_demand" in planned.stdout and "~ update hello/nightly" in planned.stdout
    assert "- delete hello/guarded" in planned.stdout and "+ create hello/kickoff" in planned.stdout
    assert "= keep   hello/every_minute" in planned.stdout

    applied = mage_prefect("deploy", "scheduled", "--out", "deployments", "--prune", cwd=deployed)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 created, 2 updated, 1 deleted" in applied.stdout
    _assert_zombie_runs_are_crashed_by_an_automation()
    assert "started the first run of hello/kickoff (create_initial_pipeline_run)" in applied.stdout
    with _client() as client:
        ours = [d for d in client.read_deployments() if "mage-prefect-project:scheduled" in d.tags]  # not other tests'
        names = {d.name: d for d in ours}
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[names["kickoff"].id]))
        )
    first = min(runs, key=lambda run: run.expected_start_time)  # the scheduler adds the next midnights
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert first.expected_start_time == today  # the current interval of @daily, as Mage's initial run
    assert _wait_final(first.id).state.is_completed()  # the worker ran it
    assert get_output(deployed / "scheduled", "hello", "greet", run=str(first.id))["trigger_name"] == "kickoff"
    assert "guarded" not in names and names["on_demand"].parameters["greeting"] == "hey"
    assert names["nightly"].schedules == []  # prefect deploy alone would have kept the old schedule

    again = mage_prefect("deploy", "scheduled", "--out", "deployments", "--plan", cwd=deployed)
    assert "update" not in again.stdout and "delete" not in again.stdout


def _assert_zombie_runs_are_crashed_by_an_automation():
    """`mage-prefect deploy` created Prefect's documented zombie-run automation."""
    from prefect.automations import Automation

    from mage_prefect.zombie_runs import AUTOMATION

    automation = Automation.read(name=AUTOMATION)
    trigger = automation.trigger
    assert trigger.posture == "Proactive" and trigger.after == {"prefect.flow-run.heartbeat"}
    assert trigger.within.total_seconds() == 90 and "prefect.flow-run.Completed" in trigger.expect
    assert automation.actions[0].state.value == "CRASHED"

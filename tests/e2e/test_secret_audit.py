"""The secrets audit: a canary secret goes through everything a team does with mage-prefect — CLI
runs with a failing Python block that quotes it and a failing SQL block that renders it, `compile`
and `deploy` with it in the environment, a worker run of the deployment (the pull step resolves
`env_var` there), MLflow tracking, a failure notification — and then every file written, every CLI
output, the worker's log, the webhook bodies, MLflow's runs, and through the REST API the server's
logs, flow and task runs, artifacts, deployments, variables, blocks and events are searched for
it. The block's own stored output is the only place it may be."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest

from mage_prefect import get_output

from .conftest import BIN, HERE, mage_prefect, stop_session

pytestmark = pytest.mark.e2e
CANARY = "canary-3f9e2a71c4"
POOL = "mage-prefect-leaky"


@pytest.fixture(scope="module")
def audited(tmp_path_factory, prefect_server, mlflow_server, webhook):
    """Everything done with the canary in the environment: (checkout folder, CLI outputs, worker log,
    the worker run's id, when it started)."""
    since = datetime.now(UTC)
    root = tmp_path_factory.mktemp("audit")
    shutil.copytree(HERE / "projects" / "leaky", root / "leaky")
    env = {**os.environ, "LEAKY_TOKEN": CANARY, "API_TOKEN": CANARY}
    outputs = []
    for pipeline in ("leak", "leak_sql"):
        done = mage_prefect("run", "leaky", pipeline, env=env, cwd=root)
        assert done.returncode == 1, done.stdout + done.stderr  # each fails, quoting the secret
        outputs.append(done.stdout + done.stderr)
    for command in (("compile", "leaky", "--out", "deployments"), ("deploy", "leaky", "--out", "deployments")):
        done = mage_prefect(*command, env=env, cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
    worker_env = {key: value for key, value in env.items() if key != "API_TOKEN"}  # the pull step sets it
    log_path = root / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
            cwd=root,
            env={**worker_env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        run_id = _run_deployment(prefect_server, "leak/on_demand")
        _wait_for(lambda: webhook)
        run_logs = {"logs": {"flow_run_id": {"any_": [run_id]}}}
        _wait_for(
            lambda: any("Finished in state" in log["message"] for log in _paged(prefect_server, "logs", run_logs))
        )
    finally:
        stop_session(worker)
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
    return root, outputs, log_path.read_text(errors="replace"), run_id, since


def _run_deployment(api: str, name: str) -> str:
    deployment = httpx.get(f"{api}/deployments/name/{name}").json()
    run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}).json()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            assert state["type"] == "FAILED", state  # `fails` fails it
            return run["id"]
        time.sleep(0.5)
    raise AssertionError(f"the worker did not finish flow run {run['id']}")


def _wait_for(arrived, timeout: float = 30) -> None:
    """Until `arrived()` (the worker's flow-run process sends logs and notifications as it ends)."""
    deadline = time.monotonic() + timeout
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.3)


def _leaks(texts: dict[str, str]) -> list[str]:
    return [where for where, text in texts.items() if CANARY in text]


def test_the_worker_run_resolved_the_secret_where_it_ran(audited):
    root, _, _, run_id, _ = audited
    # the deployment holds Mage's env_var text; the pull step rendered it from the worker's environment
    assert get_output(root / "leaky", "leak", "reads", run=run_id) == {"header": f"Bearer {CANARY}"}


def test_no_file_written_holds_the_secret_but_the_blocks_own_output(audited):
    root, *_ = audited
    leaks = {
        str(path.relative_to(root)): path.read_bytes().decode(errors="replace")
        for path in root.rglob("*")
        if path.is_file() and path.name != "worker.log"
    }
    outputs = [where for where in _leaks(leaks) if "/reads/output_" in where]
    assert outputs and all(where.startswith("leaky/.mage_prefect/results/leak/") for where in outputs)
    assert set(_leaks(leaks)) == set(outputs)
    compiled = (root / "deployments" / "prefect.yaml").read_text()
    assert """API_TOKEN: '{{ env_var("LEAKY_TOKEN") }}'""" in compiled


def test_cli_output_worker_log_webhook_and_mlflow_hold_no_secret(audited, webhook, mlflow_server):
    _, outputs, worker_log, _, _ = audited
    assert "refused: Bearer ***" in outputs[0] and "SELECT '***'" in outputs[1]
    assert webhook and all("Failed to run Pipeline `leak`" in body["text"] for body in webhook)
    experiments = httpx.post(f"{mlflow_server}/api/2.0/mlflow/experiments/search", json={"max_results": 100}).json()
    ids = [experiment["experiment_id"] for experiment in experiments["experiments"]]
    runs = httpx.post(f"{mlflow_server}/api/2.0/mlflow/runs/search", json={"experiment_ids": ids}).json()
    assert [run for run in runs["runs"] if run["data"].get("tags")]  # the tracked blocks' runs are there
    texts = {f"cli output {i}": text for i, text in enumerate(outputs)}
    texts |= {"worker log": worker_log, "webhook": json.dumps(webhook), "mlflow runs": json.dumps(runs)}
    assert "Executing deployment step: set_environment" in worker_log
    assert not _leaks(texts)


def _paged(api: str, path: str, body: dict | None = None) -> list:
    items, offset = [], 0
    while True:
        page = httpx.post(f"{api}/{path}/filter", json={**(body or {}), "limit": 200, "offset": offset}).json()
        items += page
        if len(page) < 200:
            return items
        offset += 200


def _events(api: str, since: datetime) -> list:
    response = httpx.post(
        f"{api}/events/filter", json={"filter": {"occurred": {"since": since.isoformat()}}, "limit": 50}
    ).json()
    events = list(response["events"])
    while response.get("next_page"):
        response = httpx.get(response["next_page"]).json()
        events += response["events"]
    return events


def test_the_servers_logs_runs_artifacts_deployments_and_events_hold_no_secret(audited, prefect_server):
    *_, run_id, since = audited
    logs = _paged(prefect_server, "logs")
    assert any("using ***" in log["message"] for log in logs if log["flow_run_id"] == run_id)  # from the worker
    deployments = _paged(prefect_server, "deployments")
    leaky = next(d for d in deployments if d["name"] == "on_demand" and "mage-prefect-project:leaky" in d["tags"])
    assert leaky["pull_steps"][0]["mage_prefect.pull_steps.set_environment"] == {
        "env": {"API_TOKEN": '{{ env_var("LEAKY_TOKEN") }}'}
    }
    events = _events(prefect_server, since)
    assert any(event["event"] == "prefect.flow-run.Failed" for event in events)
    texts = {
        "logs": json.dumps(logs),
        "flow runs": json.dumps(_paged(prefect_server, "flow_runs")),
        "task runs": json.dumps(_paged(prefect_server, "task_runs")),
        "artifacts": json.dumps(_paged(prefect_server, "artifacts")),
        "deployments": json.dumps(deployments),
        "variables": json.dumps(_paged(prefect_server, "variables")),
        "blocks": json.dumps(_paged(prefect_server, "block_documents")),
        "events": json.dumps(events),
    }
    assert not _leaks(texts)

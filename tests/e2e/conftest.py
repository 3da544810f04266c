"""End-to-end fixtures: a real PostgreSQL and a real `prefect server start` on it, on 127.0.0.1,
and copies of fixture projects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

import pytest

from mage_prefect.local_server import free_port, local_server
from tests.e2e.postgres import create_database, postgres_cluster

HERE = Path(__file__).parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster for the session; its base URL `postgresql://postgres@127.0.0.1:PORT`."""
    with postgres_cluster(free_port()) as url:
        yield url


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory, postgres):
    """A real Prefect server for the session; PREFECT_API_URL points at it (here and in subprocesses).
    Its database is PostgreSQL, as in production: SQLite's lock contention answers API calls with 503."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    database = create_database(postgres, "prefect").replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
    }
    with local_server(tmp_path_factory.mktemp("prefect-server-home"), env=env) as url:
        os.environ["PREFECT_API_URL"] = url
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield url
        finally:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # ship the last logs before the server goes away
            EventsWorker.drain_all(timeout=10)
            os.environ.pop("PREFECT_API_URL", None)


def copy_project(source: Path, tmp_path_factory, name: str | None = None) -> Path:
    """A fresh copy (outputs and exports are written next to the project)."""
    target = tmp_path_factory.mktemp("projects") / (name or source.name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".mage_prefect", "exports", "__pycache__"))
    return target


@pytest.fixture(scope="session")
def checks_project(tmp_path_factory) -> Path:
    return copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory) -> Path:
    return copy_project(REPO / "pipelines" / "mlops_demo", tmp_path_factory)


def task_runs(flow_run_id: str, expected: int, timeout: float = 30) -> dict:
    """The flow run's task runs by name, once the server has recorded `expected` final ones."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
            settled = [run for run in runs if run.state and run.state.is_final()]
            if len(settled) >= expected or time.monotonic() > deadline:
                return {run.name: run for run in runs}
            time.sleep(0.3)


def mage_prefect(
    *args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed `mage-prefect` command."""
    return subprocess.run(
        [str(BIN / "mage-prefect"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
        cwd=cwd,
    )


def prefect_deploy(folder: Path) -> None:
    """`prefect deploy --all` in the compiled `folder`, non-interactively, as from a shell there (as CI would)."""
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=folder,
        env={**os.environ, "PWD": str(folder)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


BUCKET = "team-results"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """`moto_server` on 127.0.0.1 with one bucket; boto3 (and so prefect-aws) reaches it through
    AWS_ENDPOINT_URL, here and in subprocesses. Yields a boto3 client. One for the session:
    prefect-aws caches its clients, endpoint included."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with serving(command, f"{url}/moto-api/", tmp_path_factory.mktemp("moto") / "server.log", 60):
        yield from _moto_bucket(url)


def _moto_bucket(url: str):
    """The AWS environment pointed at moto_server (restored afterwards), with one bucket; yields a client."""
    with environment(AWS_ENV, AWS_ENDPOINT_URL=url):
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


GCS_BUCKET = "team-lake"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """gcp-storage-emulator on 127.0.0.1 with one bucket, and a service-account key file (GCS_KEY_FILE)
    whose token endpoint is a local stand-in for Google's (the emulator takes any token); runs reach
    the emulator through STORAGE_EMULATOR_HOST. Yields a google-cloud-storage client."""
    url, folder = f"http://127.0.0.1:{free_port()}", tmp_path_factory.mktemp("gcs")
    command = [str(BIN / "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]
    token = json.dumps({"access_token": "emulator", "expires_in": 3600, "token_type": "Bearer"}).encode()
    with (
        serving([*command, "--in-memory"], f"{url}/", folder / "server.log", 60),
        answering_posts(lambda body: token) as token_url,
    ):
        key_file = folder / "service-account.json"
        key_file.write_text(json.dumps(_service_account_key(f"{token_url}/token")))
        with environment(STORAGE_EMULATOR_HOST=url, GCS_KEY_FILE=str(key_file)):
            from google.cloud import storage

            client = storage.Client(project="team")
            client.create_bucket(GCS_BUCKET)
            yield client


def _service_account_key(token_uri: str) -> dict:
    """A service-account key as Google issues it, with a fresh RSA key and the given token endpoint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": "team",
        "private_key_id": "1",
        "private_key": pem.decode(),
        "client_email": "runner@team.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


@contextmanager
def environment(values: dict[str, str] | None = None, **more: str) -> Iterator[None]:
    """These environment variables set, and only these put back afterwards (other fixtures' stay)."""
    values = {**(values or {}), **more}
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@contextmanager
def serving(command: list[str], health_url: str, log_path: Path, timeout: float):
    """A server subprocess (its own session, output to `log_path`), ready once `health_url`
    answers; stopped with SIGTERM to its process group afterwards."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(health_url, timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield process
    finally:
        stop_session(process)


def stop_session(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the process's session, SIGKILL after `grace` s: a Prefect worker that is loading
    its collections when told to stop (prefect-dbt's import takes seconds) can miss the signal and
    keep running scheduled flow runs for the rest of the session."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with a sqlite backend and a local artifact root."""
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += [
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
    ]
    with serving(command, f"{url}/health", home / "server.log", 120), environment(MLFLOW_TRACKING_URI=url):
        yield url


@contextmanager
def answering_posts(answer: Callable[[bytes], bytes]) -> Iterator[str]:
    """A local HTTP server answering every POST with `answer(its body)`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            reply = answer(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def webhook():
    """A local HTTP server standing in for Slack: the JSON bodies posted to it, in order. The
    project's notification_config reads its URL from MAGE_PREFECT_TEST_WEBHOOK (set for the worker)."""
    received: list[dict] = []
    with answering_posts(lambda body: received.append(json.loads(body)) or b"") as url:
        with environment(MAGE_PREFECT_TEST_WEBHOOK=f"{url}/hook"):
            yield received

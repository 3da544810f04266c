"""`mage-prefect run` without PREFECT_API_URL, as `make demo` does: the first run starts the local
Prefect server in the background, later runs (and `server status|stop`) find it through PREFECT_HOME;
`MAGE_PREFECT_SERVER=temporary` keeps Prefect's own temporary server per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import mage_prefect

pytestmark = pytest.mark.e2e


@pytest.fixture()
def local_env(tmp_path):
    """No configured server, a PREFECT_HOME of the test's own; its background server stopped after."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    yield env
    mage_prefect("server", "stop", env=env)


@pytest.fixture()
def tiny_project(tmp_path):
    root = tmp_path / "tiny"
    (root / "pipelines" / "one").mkdir(parents=True)
    (root / "custom").mkdir()
    (root / "metadata.yaml").write_text("project_uuid: tiny\n")
    (root / "pipelines" / "one" / "metadata.yaml").write_text("blocks:\n- {uuid: a, type: custom}\n")
    (root / "custom" / "a.py").write_text("@custom\ndef a(*args, **kwargs):\n    return 1\n")
    return root


def _server_url(env) -> str:
    status = mage_prefect("server", "status", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    return status.stdout.split("API ", 1)[1].split(" ", 1)[0]


def test_blocks_run_with_the_garbage_collector_on_though_the_cli_pauses_it_while_it_builds(tiny_project, local_env):
    (tiny_project / "custom" / "a.py").write_text(
        "import gc\n\n@custom\ndef a(*args, **kwargs):\n    return {'collecting': gc.isenabled()}\n"
    )
    assert mage_prefect("run", tiny_project, "one", env=local_env).returncode == 0
    shown = mage_prefect("output", tiny_project, "one", "a", "--format", "json", env=local_env)
    assert json.loads(shown.stdout) == {"collecting": True}, shown.stdout + shown.stderr


def test_the_first_run_starts_the_local_server_and_later_runs_reuse_it(demo_project, local_env):
    first = mage_prefect("run", demo_project, "train_model", "--var", "n_rows=2000", env=local_env)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "starting a local Prefect server at http://127.0.0.1:" in first.stderr
    assert "Pipeline 'train_model'" in first.stdout and "✓ Completed  export_report" in first.stdout
    url = _server_url(local_env)
    second = mage_prefect("run", demo_project, "predict", "--var", "top_m=5", env=local_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "starting" not in second.stderr and _server_url(local_env) == url  # the same server
    assert "warning: --var top_m: pipeline 'predict' declares no variable 'top_m' (did you mean 'top_n'?)" in (
        second.stderr
    )
    runs = httpx.post(f"{url}/flow_runs/filter", json={}).json()
    assert sorted(run["state"]["type"] for run in runs) == ["COMPLETED", "COMPLETED"]  # both, in one UI

    shown = mage_prefect("output", demo_project, "train_model", "load_customers", "--format", "json", env=local_env)
    table = json.loads(shown.stdout)
    assert len(table["data"]) == 2000
    assert {field["name"] for field in table["schema"]["fields"]} >= {"tenure_months", "churned"}
    split = json.loads(
        mage_prefect(
            "output", demo_project, "train_model", "split_dataset", "--index", "3", "--format", "json", env=local_env
        ).stdout
    )
    assert len(split["data"]) == 500  # y_test: 25 % of 2000 rows

    stopped = mage_prefect("server", "stop", env=local_env)
    assert stopped.stdout.startswith("stopped the server at http://127.0.0.1:")
    assert mage_prefect("server", "status", env=local_env).returncode == 1


def test_a_server_that_does_not_come_up_in_time_is_one_line_saying_what_to_do(tiny_project, local_env):
    done = mage_prefect("run", tiny_project, "one", env={**local_env, "MAGE_PREFECT_SERVER_TIMEOUT": "0.01"})

    assert done.returncode == 1
    assert "error: the local Prefect server did not answer within 0.01 s" in done.stderr
    assert "raise MAGE_PREFECT_SERVER_TIMEOUT" in done.stderr and "Traceback" not in done.stderr


def test_a_temporary_server_per_run_when_asked(tiny_project, local_env):
    done = mage_prefect("run", tiny_project, "one", env={**local_env, "MAGE_PREFECT_SERVER": "temporary"})

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Starting temporary server" in done.stdout + done.stderr
    assert mage_prefect("server", "status", env=local_env).returncode == 1  # none left behind

    slow = {**local_env, "MAGE_PREFECT_SERVER": "temporary", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    slow["PREFECT_HOME"] += "-new"  # a new database to migrate: more than a second
    done = mage_prefect("run", tiny_project, "one", env=slow)
    assert done.returncode == 1 and "internal error" not in done.stderr
    assert "error: Prefect's temporary server did not start within 1 s" in done.stderr


def test_the_python_api_runs_on_the_running_local_server(tiny_project, local_env):
    assert mage_prefect("server", "start", env=local_env).returncode == 0
    script = f"from mage_prefect import run_pipeline; print(run_pipeline({str(tiny_project)!r}, 'one').flow_run_id)"
    done = subprocess.run([sys.executable, "-c", script], env=local_env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "Starting temporary server" not in done.stdout + done.stderr
    run = httpx.get(f"{_server_url(local_env)}/flow_runs/{done.stdout.split()[-1]}").json()
    assert run["state"]["type"] == "COMPLETED"  # recorded where CLI runs and the UI are


def _block_types(url: str) -> dict[str, str]:
    """Each block type's slug and when it was last written (registering block types rewrites them all)."""
    return {
        block_type["slug"]: block_type["updated"]
        for block_type in httpx.post(f"{url}/block_types/filter", json={}).json()
    }


def _prepares(env) -> bool:
    from mage_prefect import background_server

    return json.loads((Path(env["PREFECT_HOME"]) / background_server.STATE).read_text())["prepares"]


def test_a_restart_prepares_the_database_only_when_what_that_depends_on_changed(tiny_project, local_env):
    assert mage_prefect("server", "start", env=local_env).returncode == 0
    registered = _block_types(_server_url(local_env))
    assert _prepares(local_env) and {"secret", "s3-bucket"} <= registered.keys()  # Prefect's own, and prefect-aws's

    assert mage_prefect("server", "stop", env=local_env).returncode == 0
    assert mage_prefect("server", "start", env=local_env).returncode == 0
    assert not _prepares(local_env)  # the same Prefect, collections and database: no migration, no registration
    assert _block_types(_server_url(local_env)) == registered  # not one rewritten

    assert mage_prefect("server", "stop", env=local_env).returncode == 0
    for database in Path(local_env["PREFECT_HOME"]).glob("prefect.db*"):
        database.unlink()  # a new database has none
    assert mage_prefect("server", "start", env=local_env).returncode == 0
    assert _prepares(local_env) and _block_types(_server_url(local_env)).keys() == registered.keys()

    assert mage_prefect("server", "stop", env=local_env).returncode == 0
    downgraded = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "downgrade", "-r", "-1", "-y"],
        env=local_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
    assert mage_prefect("server", "start", env=local_env).returncode == 0
    assert _prepares(local_env)  # migrated again, so a run works on it
    assert mage_prefect("run", tiny_project, "one", env=local_env).returncode == 0

"""background_server.py without a server: where runs find the configured API, and stale state."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mage_prefect import background_server


def test_the_configured_api_is_the_environments_else_the_active_profiles(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    assert background_server.configured_api_url() is None  # no profiles.toml: the local server
    (tmp_path / "profiles.toml").write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://team:4200/api"\n'
        '[profiles.ephemeral]\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n'
    )
    assert background_server.configured_api_url() == "http://team:4200/api"
    monkeypatch.setenv("PREFECT_PROFILE", "ephemeral")
    assert background_server.configured_api_url() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://env:4200/api")
    assert background_server.configured_api_url() == "http://env:4200/api"
    (tmp_path / "profiles.toml").write_text("not = [toml")
    monkeypatch.delenv("PREFECT_API_URL")
    assert background_server.configured_api_url() is None


def test_a_server_whose_process_is_gone_is_forgotten(tmp_path):
    done = subprocess.Popen(["true"])
    done.wait()
    state = tmp_path / background_server.STATE
    state.write_text(json.dumps({"url": "http://127.0.0.1:1/api", "pid": done.pid}))
    assert background_server.running(tmp_path) is None and not state.exists()
    other = subprocess.Popen(["sleep", "30"])  # after a reboot, the recorded pid is another program's
    state.write_text(json.dumps({"url": "http://127.0.0.1:1/api", "pid": other.pid}))
    assert background_server.running(tmp_path) is None and background_server.stop(tmp_path) is None
    assert other.poll() is None  # not signalled
    other.kill()
    other.wait()
    state.write_text("{broken")
    assert background_server.running(tmp_path) is None
    assert background_server.stop(tmp_path) is None


def _prefects_api_url(folder, env) -> str | None:
    """PREFECT_API_URL as Prefect itself reads it, run from `folder`."""
    done = subprocess.run(
        [sys.executable, "-c", "from prefect.settings import get_current_settings as s; print(s().api.url)"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = done.stdout.strip().splitlines()[-1]
    return None if found == "None" else found


@pytest.mark.parametrize(
    ("file", "text"),
    [
        (".env", "PREFECT_API_URL=http://dotenv:4200/api\n"),
        ("prefect.toml", '[api]\nurl = "http://prefect-toml:4200/api"\n'),
        ("pyproject.toml", '[project]\nname = "x"\n[tool.prefect.api]\nurl = "http://pyproject:4200/api"\n'),
        ("pyproject.toml", '[project]\nname = "x"\n'),  # no Prefect table: none configured
    ],
)
def test_the_configured_api_is_found_in_the_files_prefect_reads_as_prefect_finds_it(tmp_path, monkeypatch, file, text):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / file).write_text(text)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "home")  # no profiles.toml there
    for key in list(os.environ):
        if key.startswith("PREFECT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])
    monkeypatch.chdir(folder)

    assert background_server.configured_api_url() == _prefects_api_url(folder, env)
    if "url" in text or "URL" in text:
        assert background_server.configured_api_url() is not None


def test_a_start_prepares_the_database_only_when_what_that_depends_on_changed(tmp_path, monkeypatch):
    import sqlite3

    for key in [key for key in os.environ if key.startswith("PREFECT_") and ("DATABASE" in key or "BLOCK" in key)]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    database = sqlite3.connect(tmp_path / "prefect.db")
    database.execute("CREATE TABLE alembic_version (version_num TEXT)")
    database.execute("INSERT INTO alembic_version VALUES ('a1')")
    database.commit()
    never = {"PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}  # Prefect's memo imports every collection
    assert background_server._start_settings(tmp_path) == (never, True)  # nothing prepared yet

    prepared = tmp_path / background_server.PREPARED
    prepared.write_text(json.dumps(background_server._preparation(tmp_path)))
    spared = {**never, "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false"}
    assert background_server._start_settings(tmp_path) == (
        {**spared, "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false"},
        False,
    )

    database.execute("UPDATE alembic_version SET version_num = 'a0'")  # `prefect server database downgrade`
    database.commit()
    assert background_server._start_settings(tmp_path) == (spared, True)  # migrated again

    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    assert background_server._start_settings(tmp_path) == (never, True)  # another database
    prepared.write_text(json.dumps(background_server._preparation(tmp_path)))
    assert background_server._start_settings(tmp_path) == (spared, True)  # its migration is not known here
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL")

    (tmp_path / "prefect.toml").write_text('[server.database]\nconnection_url = "postgresql+asyncpg://db/p"\n')
    assert background_server._start_settings(tmp_path) == (never, True)  # configured where Prefect also reads
    prepared.write_text("[not a record")
    assert background_server._start_settings(tmp_path)[1] is True

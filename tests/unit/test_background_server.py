"""background_server.py without a server: where runs find the configured API, and stale state."""

from __future__ import annotations

import json
import subprocess

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

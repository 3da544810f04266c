"""The local Prefect server `mage-prefect run` uses when no PREFECT_API_URL is configured: started
in the background by the first run (or `mage-prefect server start`), reused by every later run and
by the UI, with the database of the current PREFECT_HOME. Its pid and URL are in PREFECT_HOME, so
any shell with the same PREFECT_HOME finds it; `mage-prefect server stop` ends it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .local_server import HOST, answers, free_port, server_command, stop_process_group
from .project.errors import MagePrefectError
from .project.textfile import write_atomically

DEFAULT_PORT = 4200
STATE = "mage-prefect-server.json"
LOG = "mage-prefect-server.log"
PREPARED = "mage-prefect-prepared.json"  # what the last start that prepared the database was for
STARTUP_TIMEOUT = 180.0  # seconds; a busy CI machine can take a minute to migrate a new database
TIMEOUT_VARIABLE = "MAGE_PREFECT_SERVER_TIMEOUT"
MODE_VARIABLE = "MAGE_PREFECT_SERVER"  # `temporary`: Prefect's own temporary server for each run, not this one


class ServerNotReady(MagePrefectError, RuntimeError):
    """The background server did not come up; the message says what to do."""


@dataclass(frozen=True)
class BackgroundServer:
    url: str  # the API URL (…/api); the UI is at the same address without /api
    pid: int
    home: Path
    prepares: bool = False  # migrates its database or registers block types as it starts (_start_settings)

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")

    def wait_ready(self, timeout: float | None = None) -> BackgroundServer:
        """Wait until it answers /health; ServerNotReady if it exits or takes longer than `timeout`
        (default: MAGE_PREFECT_SERVER_TIMEOUT, else STARTUP_TIMEOUT)."""
        timeout = timeout if timeout is not None else startup_timeout()
        deadline = time.monotonic() + timeout
        while not answers(f"{self.url}/health"):
            if not _alive(self.pid):
                _forget(self.home)
                raise ServerNotReady(
                    f"the local Prefect server exited while starting; see {self.home / LOG}, "
                    "or set PREFECT_API_URL to a server of your own"
                )
            if time.monotonic() > deadline:
                raise ServerNotReady(
                    f"the local Prefect server did not answer within {timeout:g} s (see {self.home / LOG}); "
                    f"on a busy machine raise {TIMEOUT_VARIABLE}, or set PREFECT_API_URL to a running server"
                )
            time.sleep(0.05)
        if self.prepares:  # it answers once its start, the database's preparation included, is done
            write_atomically(self.home / PREPARED, json.dumps(_preparation(self.home)).encode())
        return self


def wanted() -> bool:
    """Whether runs without a configured API use this server (not MAGE_PREFECT_SERVER=temporary)."""
    return os.environ.get(MODE_VARIABLE) != "temporary"


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def configured_api_url() -> str | None:
    """PREFECT_API_URL where Prefect reads it, in its order, without importing Prefect: the
    environment, then the current folder's `.env`, `prefect.toml` ([api] url) and `pyproject.toml`
    ([tool.prefect.api] url), then the active Prefect profile (profiles.toml)."""
    return (
        os.environ.get("PREFECT_API_URL")
        or _dotenv(Path(".env")).get("PREFECT_API_URL")
        or _toml_value(Path("prefect.toml"), ("api", "url"))
        or _toml_value(Path("pyproject.toml"), ("tool", "prefect", "api", "url"))
        or _profile_api_url()
        or None
    )


def _profile_api_url() -> str | None:
    profiles = _toml(_profiles_path(prefect_home()))
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    return (profiles.get("profiles", {}).get(active) or {}).get("PREFECT_API_URL")


def _profiles_path(home: Path) -> Path:
    return Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # Prefect reports what it cannot read, once imported


def _toml_value(path: Path, keys: tuple[str, ...]) -> str | None:
    value = _toml(path)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _dotenv(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        return dotenv_values(path)
    except (OSError, UnicodeDecodeError):
        return {}


def running(home: Path | None = None) -> BackgroundServer | None:
    """The background server of `home` (default: PREFECT_HOME) if its process is alive (it may
    still be starting: `wait_ready`)."""
    home = home or prefect_home()
    try:
        state = json.loads((home / STATE).read_text())
        server = BackgroundServer(
            url=str(state["url"]), pid=int(state["pid"]), home=home, prepares=bool(state.get("prepares"))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(server.pid):
        _forget(home)
        return None
    return server


def start(home: Path | None = None, port: int | None = None) -> tuple[BackgroundServer, bool]:
    """The running background server of `home`, or a new one (not waited for); whether it is new."""
    home = home or prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    with _lock(home):
        server = running(home)
        if server is not None:
            return server, False
        port = port or (DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port())
        env = {key: value for key, value in os.environ.items() if key not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
        env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        settings, prepares = _start_settings(home)
        env.update(settings)
        with open(home / LOG, "ab") as log:
            process = subprocess.Popen(
                server_command(port),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this process, and Ctrl-C in its shell
            )
        server = BackgroundServer(url=f"http://{HOST}:{port}/api", pid=process.pid, home=home, prepares=prepares)
        write_atomically(
            home / STATE, json.dumps({"url": server.url, "pid": server.pid, "prepares": prepares}).encode()
        )
        return server, True


def stop(home: Path | None = None) -> BackgroundServer | None:
    """Stop the background server of `home`; the one stopped, or None if none was running."""
    home = home or prefect_home()
    with _lock(home):
        server = running(home)
        if server is not None:
            stop_process_group(server.pid)
            _forget(home)
        return server


def startup_timeout() -> float:
    """Seconds a run waits for the server to start: MAGE_PREFECT_SERVER_TIMEOUT, else STARTUP_TIMEOUT."""
    try:
        return float(os.environ.get(TIMEOUT_VARIABLE) or STARTUP_TIMEOUT)
    except ValueError:
        raise ServerNotReady(f"{TIMEOUT_VARIABLE} must be a number of seconds") from None


@contextlib.contextmanager
def _lock(home: Path):
    """One process at a time decides whether to start the server (two first runs at once)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / f"{STATE}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_settings(home: Path) -> tuple[dict[str, str], bool]:
    """Settings that spare a start of the server of `home` what an earlier start did, and whether
    this one prepares its database. Prefect's own memo of its block registration imports every
    installed collection at each start to decide (seconds), and misses a new database at the same
    URL; and it migrates at each start. Both are redone when what they depend on changed."""
    try:
        done = json.loads((home / PREPARED).read_text())
    except (OSError, ValueError):
        done = None
    done = done if isinstance(done, dict) else {}
    now = _preparation(home)
    settings = {"PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}  # ours decides
    if done.get("key") != now["key"]:
        return settings, True
    settings["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] = "false"
    if now["revision"] is None or done.get("revision") != now["revision"]:
        return settings, True
    settings["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] = "false"
    return settings, False


def _preparation(home: Path) -> dict:
    """What preparing the database of `home`'s server depends on: Prefect's version, the installed
    collections (their block types), the settings that choose the database or its registration,
    and the default database's file; and that database's migration, when no other is configured."""
    from importlib.metadata import entry_points, version

    collections = sorted(
        f"{entry.dist.name}=={entry.dist.version}" for entry in entry_points(group="prefect.collections") if entry.dist
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("PREFECT_") and ("DATABASE" in key or "BLOCK" in key)
    }
    files = [  # Prefect also reads the current folder's, and the active profile
        {key: value for key, value in _dotenv(Path(".env")).items() if key.startswith("PREFECT_")},
        _toml(Path("prefect.toml")),
        _toml(Path("pyproject.toml")).get("tool", {}).get("prefect"),
        _toml(_profiles_path(home)),
    ]
    default = home / "prefect.db"
    identity = [
        version("prefect"),
        collections,
        environment,
        files,
        default.stat().st_ino if default.exists() else None,
    ]
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    configured = environment or "database" in json.dumps(files, default=str).lower()
    return {"key": key, "revision": None if configured else _revision(default)}


def _revision(database: Path) -> str | None:
    """The migration (Alembic revision) of a SQLite database, if it has one."""
    try:
        with contextlib.closing(sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True, timeout=1)) as db:
            rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
    except (sqlite3.Error, ValueError):
        return None
    return ",".join(sorted(row[0] for row in rows)) or None


def _forget(home: Path) -> None:
    (home / STATE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not reaped) is not alive; after a reboot the pid may be another program's
        exited = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return True
    return not exited and b"prefect" in command and b"server" in command


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        # as the server binds: a port its last run left in TIME_WAIT is free for it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            return True
        except OSError:
            return False

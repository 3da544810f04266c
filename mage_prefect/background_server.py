"""The local Prefect server `mage-prefect run` uses when no PREFECT_API_URL is configured: started
in the background by the first run (or `mage-prefect server start`), reused by every later run and
by the UI, with the database of the current PREFECT_HOME. Its pid and URL are in PREFECT_HOME, so
any shell with the same PREFECT_HOME finds it; `mage-prefect server stop` ends it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
import tomllib
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .local_server import HOST, free_port, prefect_command, stop_process_group
from .project.errors import MagePrefectError
from .project.textfile import write_atomically

DEFAULT_PORT = 4200
STATE = "mage-prefect-server.json"
LOG = "mage-prefect-server.log"
REGISTERED = "mage-prefect-blocks.json"  # what the block types of the server's last registration depended on
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
    registers: bool = False  # registers Prefect's block types as it starts (see _registration_key)

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")

    def wait_ready(self, timeout: float | None = None) -> BackgroundServer:
        """Wait until it answers /health; ServerNotReady if it exits or takes longer than `timeout`
        (default: MAGE_PREFECT_SERVER_TIMEOUT, else STARTUP_TIMEOUT)."""
        timeout = timeout if timeout is not None else startup_timeout()
        deadline = time.monotonic() + timeout
        while not _healthy(self.url):
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
        if self.registers:  # it answers once its start, registration included, is done
            write_atomically(self.home / REGISTERED, json.dumps({"key": _registration_key(self.home)}).encode())
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
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml").expanduser()
    profiles = _toml(path)
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    return (profiles.get("profiles", {}).get(active) or {}).get("PREFECT_API_URL")


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
            url=str(state["url"]), pid=int(state["pid"]), home=home, registers=bool(state.get("registers"))
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
        # Prefect's own memo of its registration imports every installed collection at each start
        # (seconds), and misses a new database at the same URL: ours decides
        registers = not _registered(home)
        env.update(PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION="false")
        if not registers:
            env.update(PREFECT_SERVER_BLOCKS_REGISTER_ON_START="false")
        with open(home / LOG, "ab") as log:
            process = subprocess.Popen(
                [*prefect_command(), "server", "start", "--host", HOST, "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this process, and Ctrl-C in its shell
            )
        server = BackgroundServer(url=f"http://{HOST}:{port}/api", pid=process.pid, home=home, registers=registers)
        write_atomically(
            home / STATE, json.dumps({"url": server.url, "pid": server.pid, "registers": registers}).encode()
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


@contextmanager
def _lock(home: Path):
    """One process at a time decides whether to start the server (two first runs at once)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / f"{STATE}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _registered(home: Path) -> bool:
    """Whether a server of `home` registered the block types of what is installed now, in this database."""
    try:
        return json.loads((home / REGISTERED).read_text()).get("key") == _registration_key(home)
    except (OSError, ValueError, AttributeError):
        return False


def _registration_key(home: Path) -> str:
    """What the block types a Prefect server registers as it starts depend on, as Prefect's own memo
    of them does (which imports every installed collection to find out): Prefect's version, the
    installed collections' versions, and the database (its settings, and the default one's file)."""
    from importlib.metadata import entry_points, version

    collections = sorted(
        f"{entry.dist.name}=={entry.dist.version}" for entry in entry_points(group="prefect.collections") if entry.dist
    )
    database = {key: value for key, value in os.environ.items() if "DATABASE" in key and key.startswith("PREFECT_")}
    try:
        default_database = (home / "prefect.db").stat().st_ino
    except OSError:
        default_database = None
    profiles = _toml(Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    identity = [version("prefect"), collections, database, default_database, profiles]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


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


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


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

"""A local `prefect server start` subprocess: own PREFECT_HOME, free port on 127.0.0.1, always
stopped (tests, benchmarks); and how to start and stop one (background_server.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def local_server(home: Path, *, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[str]:
    """Run `prefect server start` with PREFECT_HOME=home (log: home/server.log); yield its API URL
    once /api/health answers. The parent's PREFECT_* variables are not passed on; `env` is added."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server_env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    server_env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    server_env.update(env or {})
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            server_command(port),
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}/api"
    try:
        _wait_healthy(f"{url}/health", process, log_path, timeout)
        yield url
    finally:
        _stop(process)


def server_command(port: int) -> list[str]:
    """`prefect server start` on HOST:`port`, by server_process.py (its start spared the collector;
    -P: a module in the current folder cannot shadow one it imports)."""
    return [sys.executable, "-P", "-m", "mage_prefect.server_process", "--host", HOST, "--port", str(port)]


def answers(url: str) -> bool:
    """Whether `url` (a server's /health) answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prefect server exited ({process.returncode}):\n{_tail(log_path)}")
        if answers(url):
            return
        time.sleep(0.3)
    raise RuntimeError(f"Prefect server not healthy after {timeout:g} s:\n{_tail(log_path)}")


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]


def _stop(process: subprocess.Popen) -> None:
    stop_process_group(process.pid)
    process.wait(5)


def stop_process_group(pid: int) -> None:
    """SIGTERM a server's process group (its own session), then SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.1)


def _gone(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid  # our child: reap it
    except ChildProcessError:  # another process's: gone once it no longer exists
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True

"""A throwaway PostgreSQL cluster on 127.0.0.1 from the machine's own server binaries (Debian's package)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries (initdb, pg_ctl) are missing: run `make test`, "
            "which installs Debian's postgresql package"
        )
    return Path(found).resolve().parent


def _as_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root; run them as Debian's `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@contextmanager
def postgres_cluster(port: int) -> Iterator[str]:
    """Start a cluster in a new folder under the system temp dir (which the `postgres` user can reach;
    pytest's own temp dirs are private to their user) with trust auth and no fsync (test data only).
    Yield its base URL `postgresql://postgres@127.0.0.1:PORT`; stop and remove it on exit."""
    bindir, root = _bindir(), Path(tempfile.mkdtemp(prefix="mage-prefect-postgres-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    try:
        _run(
            _as_owner(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]
            )
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _run(
            _as_owner(
                [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"]
            )
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            _run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(base_url: str, name: str) -> str:
    """Create database `name` and return its URL."""
    _run([str(_bindir() / "psql"), base_url + "/postgres", "-v", "ON_ERROR_STOP=1", "-qc", f'CREATE DATABASE "{name}"'])
    return f"{base_url}/{name}"

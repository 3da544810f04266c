"""Blocks on Prefect's task runners: the thread pool against Dask and Ray worker processes, as whole
`mage-prefect run` processes on the running local server (Mage beside them for the fan-out).

    cd benchmarks && ../.venv/bin/python runners.py [--repeat N] [--mage PATH/TO/mage] [--workloads NAME ...]

Workloads (every column runs the same block files):
- wide: 1 loader → 16 CPU-bound pure-Python transformers (40M loop steps, ~2.8 s on one core, each
  holding the GIL) → 1 fan-in;
- fan-out: a dynamic block → 1,000 children (cli.py's), and Mage's own trigger run of it;
- frame: the 5-block chain of a 2,000,000 × 10 DataFrame (cases.py's): what moving large outputs
  between worker processes costs (through the result store: each output is written once, read once).
Columns: threads; Dask and Ray on the cluster each run starts itself (one worker process per core);
Dask and Ray on a standing cluster of 2 worker processes, as a team's cluster would be (its address
in MAGE_PREFECT_TASK_RUNNER). A column's runs follow each other, and a standing cluster runs only
during its own column: its idle processes would otherwise take CPU from the others.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from cases import HEADER, write_project
from cases import WORKLOADS as CASES
from cli import BIN, CHILDREN, HARNESS, TIMEOUT, _on_the_local_server, _settle, cell, timed, write_fan_out

HERE = Path(__file__).resolve().parent
WIDE = 16
SPEED_UP_TARGET = 1.7  # Dask/Ray processes on the wide DAG: ≥ 1.7× the thread pool on 2 cores
WIDE_LOADER = """
@data_loader
def load(*args, **kwargs):
    return 3
"""
WIDE_STEP = """
@transformer
def burn(seed, *args, **kwargs):
    total = 0
    for i in range(40_000_000):  # pure Python: holds the GIL throughout
        total += (i * seed) % 7
    return total
"""
WIDE_FAN_IN = """
@data_exporter
def total(*values, **kwargs):
    return sum(values)
"""


def write_wide(root: Path) -> None:
    for folder in ("data_loaders", "transformers", "data_exporters", "pipelines/bench"):
        (root / folder).mkdir(parents=True)
    (root / "metadata.yaml").write_text("project_type: standalone\n")
    (root / "data_loaders" / "load.py").write_text(HEADER.format(decorator="data_loader") + WIDE_LOADER)
    (root / "data_exporters" / "total.py").write_text(HEADER.format(decorator="data_exporter") + WIDE_FAN_IN)
    lines = ["blocks:", "- {uuid: load, type: data_loader, upstream_blocks: []}"]
    for index in range(WIDE):
        (root / "transformers" / f"burn_{index:02d}.py").write_text(HEADER.format(decorator="transformer") + WIDE_STEP)
        lines.append(f"- {{uuid: burn_{index:02d}, type: transformer, upstream_blocks: [load]}}")
    lines.append(f"- {{uuid: total, type: data_exporter, upstream_blocks: [{', '.join(_burns())}]}}")
    (root / "pipelines" / "bench" / "metadata.yaml").write_text("\n".join(lines) + "\nname: bench\nuuid: bench\n")


def _burns() -> list[str]:
    return [f"burn_{index:02d}" for index in range(WIDE)]


@contextmanager
def standing_dask(tmp: Path):
    """`dask scheduler` and `dask worker` (2 single-threaded processes); the scheduler's address."""
    address = "tcp://127.0.0.1:8799"
    log = open(tmp / "dask.log", "wb")
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--port", "8799", "--no-dashboard"], stdout=log, stderr=log
    )
    workers = subprocess.Popen(
        [str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
        stdout=log,
        stderr=log,
        cwd=tmp,
    )
    time.sleep(8)
    try:
        yield address
    finally:
        for process in (workers, scheduler):
            process.terminate()
            process.wait(timeout=60)
        log.close()


@contextmanager
def standing_ray(tmp: Path):
    """`ray start --head` with 2 CPUs; its address."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    start = [str(BIN / "ray"), "start", "--head", "--port=6399", "--num-cpus=2", "--include-dashboard=false"]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=TIMEOUT)
    try:
        yield "127.0.0.1:6399"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=TIMEOUT)


STANDING = {"dask": standing_dask, "ray": standing_ray}
WORKLOADS = {
    "wide": write_wide,
    "fan-out": lambda root: write_fan_out(root, CHILDREN),
    "frame": lambda root: write_project(root, CASES["frame"]),
}


def columns(tmp: Path, root: Path, mage: str | None, workload: str) -> dict:
    """Each column's command, extra environment, and standing cluster (a context manager)."""
    run = [str(BIN / "mage-prefect"), "run", str(root), "bench"]
    found = {
        "threads": (run, {}, None),
        "Dask (own cluster)": ([*run, "--task-runner", "dask"], {}, None),
        "Ray (own instance)": ([*run, "--task-runner", "ray"], {}, None),
    }
    for kind in STANDING:
        found[f"{kind.capitalize()} (standing, 2 workers)"] = (run, {}, kind)
    if mage and workload == "fan-out":
        harness = [str(Path(mage).parent / "python"), str(HARNESS), "run", str(root), "bench"]
        command = [*harness, "--out", str(tmp / "mage-out"), "--no-outputs", "--timeout", str(TIMEOUT)]
        found["Mage (trigger run)"] = (command, {"MAGE_DATA_DIR": str(tmp / "mage-data")}, None)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mage", default=str(HERE.parent / ".venv-mage" / "bin" / "mage"))
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    args = parser.parse_args()
    mage = str(Path(args.mage).absolute()) if Path(args.mage).exists() else None
    tmp = Path(tempfile.mkdtemp(prefix="mage-prefect-runner-bench-"))
    server_env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"), "RAY_USAGE_STATS_ENABLED": "0"}
    server_env.pop("PREFECT_API_URL", None)
    table: dict[str, dict[str, list[float]]] = {}
    try:
        for workload in args.workloads:
            write, root = WORKLOADS[workload], tmp / workload / "project"
            write(root)
            found = columns(tmp, root, mage, workload)
            table[workload] = {name: [] for name in found}
            for name, (command, extra, standing) in found.items():
                with STANDING[standing](tmp) if standing else nullcontext() as address:
                    if address:
                        extra = {"MAGE_PREFECT_TASK_RUNNER": f"{{type: {standing}, address: '{address}'}}"}
                    for round_ in range(args.repeat):
                        env = {**(_on_the_local_server(server_env) if not name.startswith("Mage") else os.environ)}
                        seconds, _, ok, _ = timed(command, {**env, **extra}, tmp)
                        if not name.startswith("Mage"):
                            _settle(server_env)
                        if ok:
                            table[workload][name].append(seconds)
                        print(
                            f"[{round_ + 1}/{args.repeat}] {workload:<8} {name:<28} {seconds:6.2f} s"
                            + ("" if ok else f"  FAILED (see {tmp}/last-failure.log)"),
                            flush=True,
                        )
        print(report(table, args.repeat))
    finally:
        subprocess.run([str(BIN / "mage-prefect"), "server", "stop"], env=server_env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(table: dict[str, dict[str, list[float]]], repeat: int) -> str:
    names = list(dict.fromkeys(name for found in table.values() for name in found))
    labels = {
        "wide": f"1 → {WIDE} CPU-bound blocks → 1",
        "fan-out": f"dynamic block → {CHILDREN:,} children",
        "frame": "5-block chain of a 2M × 10 DataFrame",
    }
    lines = [
        f"\nWhole `mage-prefect run` process wall time, median of {repeat} (min–max)",
        "",
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    for workload, found in table.items():
        cells = [cell(found[name], repeat - len(found[name])) if name in found else "–" for name in names]
        lines.append(f"| {labels[workload]} | " + " | ".join(cells) + " |")
    lines.append("")
    medians = {w: {n: statistics.median(s) for n, s in found.items() if s} for w, found in table.items()}
    threads = medians.get("wide", {}).get("threads")
    for name, seconds in medians.get("wide", {}).items():
        if name != "threads" and threads:
            speed_up = threads / seconds
            verdict = "meets" if speed_up >= SPEED_UP_TARGET else "misses"
            lines.append(
                f"wide DAG on {name}: {speed_up:.2f}× the thread pool ({verdict} the ≥ {SPEED_UP_TARGET}× target)"
            )
    mage = medians.get("fan-out", {}).get("Mage (trigger run)")
    for name, seconds in medians.get("fan-out", {}).items():
        if mage and not name.startswith("Mage"):
            verdict = "meets" if seconds <= mage else "misses"
            lines.append(f"fan-out on {name}: {seconds / mage:.2f}× Mage's trigger run ({verdict} the ≤ 1× target)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Whole-process wall time of one pipeline run, as a user lives it: Mage's `mage run` against
`mage-prefect run` (first run, with its server start, and repeat runs on the running local server),
a hand-written Prefect flow script (with and without result persistence) and plain Python.

    .venv/bin/python benchmarks/cli.py [--repeat N] [--mage PATH/TO/mage]

Every case is a fresh process, cases interleaved round by round; each cell is the median of N and
the min–max. The workloads are chains of trivial blocks (cases.py's block files): 1, 50 and 1,000
blocks. Prefect's flow-run heartbeat stays on (its default), as users run it.
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
from dataclasses import replace
from pathlib import Path

from cases import CHAIN_FIRST, CHAIN_STEP, Workload, write_project

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SIZES = (1, 50, 1000)
TIMEOUT = 600
CHAIN = Workload("chain", "trivial blocks", CHAIN_FIRST, CHAIN_STEP, blocks=1, rows=0)
FLOW_SCRIPT = """import sys
from pathlib import Path
from prefect import flow, task

root, blocks, persist = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "persist"
functions = []
for index in range(blocks):
    path = root / ("data_loaders" if index == 0 else "transformers") / (
        "load_data.py" if index == 0 else f"transform_{index:02d}.py"
    )
    namespace = {"data_loader": lambda f: f, "transformer": lambda f: f}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    functions.append(namespace["load_data" if index == 0 else "transform"])
tasks = [task(fn, name=f"block_{i}", persist_result=persist) for i, fn in enumerate(functions)]


@flow(name="hand_written", persist_result=persist)
def chain():
    value = tasks[0]()
    for step in tasks[1:]:
        value = step(value)
    return value


if __name__ == "__main__":
    assert chain() == blocks
"""
PYTHON_SCRIPT = FLOW_SCRIPT.replace("from prefect import flow, task\n", "").split("tasks = ")[0] + (
    "value = functions[0]()\nfor step in functions[1:]:\n    value = step(value)\nassert value == blocks\n"
)


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, bool]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    if done.returncode:
        (cwd / "last-failure.log").write_text(done.stdout[-5000:] + done.stderr[-5000:])
    return seconds, done.returncode == 0


def cases(tmp: Path, mage: str | None, size: int) -> dict[str, tuple[list[str], dict[str, str], bool]]:
    """Each column's command, environment and whether it restarts mage-prefect's local server."""
    root = tmp / f"chain-{size}" / "project"
    write_project(root, replace(CHAIN, blocks=size, warmup_blocks=1))
    (tmp / "flow.py").write_text(FLOW_SCRIPT)
    (tmp / "plain.py").write_text(PYTHON_SCRIPT)
    local = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home")}
    local.pop("PREFECT_API_URL", None)
    found = {
        "mage-prefect run (first)": ([str(BIN / "mage-prefect"), "run", str(root), "bench"], local, True),
        "mage-prefect run (repeat)": ([str(BIN / "mage-prefect"), "run", str(root), "bench"], local, False),
        "hand-written flow, persist": (
            [sys.executable, str(tmp / "flow.py"), str(root), str(size), "persist"],
            {},
            False,
        ),
        "hand-written flow, no persist": (
            [sys.executable, str(tmp / "flow.py"), str(root), str(size), "none"],
            {},
            False,
        ),
        "plain Python": ([sys.executable, str(tmp / "plain.py"), str(root), str(size), "none"], {}, False),
    }
    if mage:
        mage_env = {**os.environ, "MAGE_DATA_DIR": str(tmp / "mage-data")}
        found = {"Mage `mage run`": ([mage, "run", str(root), "bench"], mage_env, False), **found}
    return found


def _on_the_local_server(env: dict[str, str]) -> dict[str, str]:
    """`env` with PREFECT_API_URL at the local server (started if a `first` case stopped it)."""
    started = subprocess.run(
        [str(BIN / "mage-prefect"), "server", "start"], env=env, check=True, capture_output=True, text=True
    )
    return {**env, "PREFECT_API_URL": started.stdout.split("API ", 1)[1].split(" ", 1)[0]}


def _settle(env: dict[str, str], timeout: float = 120) -> None:
    """Until the local server has recorded the last case's task runs (their events arrive after the
    process ends): on its SQLite database the next case would otherwise wait on its locks."""
    import httpx

    api = _on_the_local_server(env)["PREFECT_API_URL"]
    deadline, counts = time.monotonic() + timeout, [-1]
    while time.monotonic() < deadline:
        counts.append(httpx.post(f"{api}/task_runs/count", json={}, timeout=30).json())
        if counts[-1] == counts[-2]:
            return
        time.sleep(1)


def cell(seconds: list[float], failures: int) -> str:
    if not seconds:
        return "fails"
    text = f"{statistics.median(seconds):.2f} s ({min(seconds):.2f}–{max(seconds):.2f})"
    return text + (f", {failures} failed" if failures else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mage", default=str(HERE.parent / ".venv-mage" / "bin" / "mage"))
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="Chain lengths (default: 1 50 1000).")
    args = parser.parse_args()
    mage = str(Path(args.mage).absolute()) if Path(args.mage).exists() else None
    tmp = Path(tempfile.mkdtemp(prefix="mage-prefect-cli-bench-"))
    server_env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home")}
    server_env.pop("PREFECT_API_URL", None)
    mage_prefect = str(BIN / "mage-prefect")
    try:
        # once: the local server's very first start, which also creates and migrates its database
        creation, _ = timed([mage_prefect, "server", "start"], server_env, tmp)
        print(f"first server start on a new PREFECT_HOME (database created): {creation:.2f} s", flush=True)
        table: dict[int, dict[str, list[float]]] = {}
        failures: dict[tuple[int, str], int] = {}
        for size in args.sizes:
            columns = cases(tmp, mage, size)
            table[size] = {name: [] for name in columns}
            for round_ in range(args.repeat):
                for name, (command, env, restart) in columns.items():
                    if restart:  # the first run of the day: no server running, its database exists
                        subprocess.run([mage_prefect, "server", "stop"], env=server_env, capture_output=True)
                    seconds, ok = timed(command, env or _on_the_local_server(server_env), tmp)
                    if not name.startswith(("Mage", "plain")):  # cases that ran on the server
                        _settle(server_env)
                    if ok:
                        table[size][name].append(seconds)
                    else:
                        failures[size, name] = failures.get((size, name), 0) + 1
                    print(
                        f"[{round_ + 1}/{args.repeat}] {size:>5} blocks  {name:<30} {seconds:6.2f} s"
                        + ("" if ok else "  FAILED"),
                        flush=True,
                    )
        print(report(table, failures, mage is not None, args.repeat))
        print(
            f"\nThe local server's very first start (it creates its database): {creation:.2f} s, once per PREFECT_HOME."
        )
    finally:
        subprocess.run([mage_prefect, "server", "stop"], env=server_env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(table, failures, with_mage: bool, repeat: int) -> str:
    names = list(next(iter(table.values())))
    lines = [
        f"\nWhole process wall time, median of {repeat} (min–max), fresh process each",
        "",
        "| chain of trivial blocks | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    for size, columns in table.items():
        lines.append(f"| {size:,} | " + " | ".join(cell(columns[n], failures.get((size, n), 0)) for n in names) + " |")
    if with_mage:
        lines.append("")
        for size, columns in table.items():
            mage, repeat_run = columns["Mage `mage run`"], columns["mage-prefect run (repeat)"]
            first = columns["mage-prefect run (first)"]
            if mage and repeat_run:
                lines.append(
                    f"{size:,} blocks: repeat run {statistics.median(repeat_run) / statistics.median(mage):.2f}× Mage"
                    f" (target ≤ 0.7×), first run {statistics.median(first) / statistics.median(mage):.2f}× Mage"
                    " (target ≤ 1.5×)"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

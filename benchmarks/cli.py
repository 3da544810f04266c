"""Whole-process wall time of one pipeline run, as a user lives it: Mage against `mage-prefect run`
(first run, with its server start, and repeat runs on the running local server), a hand-written
Prefect flow script (with and without result persistence) and plain Python.

    .venv/bin/python benchmarks/cli.py [--repeat N] [--mage PATH/TO/mage] [--workloads NAME ...]

Every case is a fresh process, cases interleaved round by round; each cell is the median of N and
the min–max; peak memory (RSS) is the median of the runs' maxima. The workloads (every column runs
the same block files, cases.py's):
- chains of 1, 50 and 1,000 trivial blocks (`mage run`);
- a 5-block chain passing a 2,000,000 × 10 float DataFrame (`mage run`);
- a dynamic block fanning out to 1,000 children: `mage run` cannot run dynamic blocks, so Mage's
  column is a trigger run by its own scheduler (tests/compat/mage_harness.py, outputs not copied).
Prefect's flow-run heartbeat stays on (its default), as users run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cases import CHAIN_FIRST, CHAIN_STEP, FRAME_FIRST, FRAME_STEP, HEADER, Workload, write_project

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent / "tests" / "compat" / "mage_harness.py"
BIN = Path(sys.executable).parent
TIMEOUT = 900
FRAME_ROWS = 2_000_000
CHILDREN = 1000
FLOW_SCRIPT = """import sys
from pathlib import Path
from prefect import flow, task

root, blocks, persist, rows = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "persist", int(sys.argv[4])
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
    value = tasks[0](rows=rows)
    for step in tasks[1:]:
        value = step(value)
    return value


if __name__ == "__main__":
    value = chain()
    assert value == blocks if not rows else value.shape == (rows, 10)
"""
PYTHON_SCRIPT = FLOW_SCRIPT.replace("from prefect import flow, task\n", "").split("tasks = ")[0] + (
    "value = functions[0](rows=rows)\nfor step in functions[1:]:\n    value = step(value)\n"
    "assert value == blocks if not rows else value.shape == (rows, 10)\n"
)
FAN_OUT_FIRST = """
@data_loader
def load_items(*args, **kwargs):
    return [list(range(int(kwargs['children'])))]
"""
FAN_OUT_CHILD = """
@transformer
def child(item, *args, **kwargs):
    return item * 2
"""
FAN_OUT_METADATA = """blocks:
- uuid: load_items
  type: data_loader
  configuration:
    dynamic: true
  upstream_blocks: []
  downstream_blocks:
  - child
- uuid: child
  type: transformer
  upstream_blocks:
  - load_items
  downstream_blocks: []
name: bench
type: python
uuid: bench
variables:
  children: {children}
"""
FAN_OUT_FLOW = """import sys
from pathlib import Path
from prefect import flow, task

root, children, persist = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "persist"
namespace = {"data_loader": lambda f: f, "transformer": lambda f: f}
for path in (root / "data_loaders" / "load_items.py", root / "transformers" / "child.py"):
    exec(compile(path.read_text(), str(path), "exec"), namespace)
load = task(namespace["load_items"], persist_result=persist)
child = task(namespace["child"], persist_result=persist)


@flow(name="hand_written_fan_out", persist_result=persist)
def fan_out():
    return child.map(load(children=children)[0]).result()


if __name__ == "__main__":
    assert sum(fan_out()) == children * (children - 1)
"""
FAN_OUT_PYTHON = FAN_OUT_FLOW.split("load = task(")[0].replace("from prefect import flow, task\n", "") + (
    'items = namespace["load_items"](children=children)[0]\n'
    'assert sum(namespace["child"](item) for item in items) == children * (children - 1)\n'
)


@dataclass(frozen=True)
class Column:
    command: list[str]
    env: dict[str, str] | None  # None: the environment, pointed at the running local server
    restarts: bool = False  # a first run: the local server is stopped before it


def write_fan_out(root: Path, children: int) -> None:
    (root / "data_loaders").mkdir(parents=True)
    (root / "transformers").mkdir()
    (root / "metadata.yaml").write_text("project_type: standalone\nvariables_dir: ~/.mage_data\n")
    (root / "data_loaders" / "load_items.py").write_text(HEADER.format(decorator="data_loader") + FAN_OUT_FIRST)
    (root / "transformers" / "child.py").write_text(HEADER.format(decorator="transformer") + FAN_OUT_CHILD)
    (root / "pipelines" / "bench").mkdir(parents=True)
    (root / "pipelines" / "bench" / "metadata.yaml").write_text(FAN_OUT_METADATA.format(children=children))


def columns(tmp: Path, mage: str | None, workload: str) -> dict[str, Column]:
    """Each column's command for `workload` (`chain-N`, `frame`, `fan-out`)."""
    root = tmp / workload / "project"
    local = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home")}
    local.pop("PREFECT_API_URL", None)
    # Mage as `pip install mage-ai` installs it: without the dbt `make compat` adds to its venv
    mage_env = {**os.environ, "MAGE_DATA_DIR": str(tmp / "mage-data"), "PYTHONPATH": str(HERE / "without_dbt")}
    run = [str(BIN / "mage-prefect"), "run", str(root), "bench"]
    found = {
        "mage-prefect run (first)": Column(run, local, restarts=True),
        "mage-prefect run (repeat)": Column(run, local),
    }
    if workload == "fan-out":
        write_fan_out(root, CHILDREN)
        (tmp / "fan_out.py").write_text(FAN_OUT_FLOW)
        (tmp / "fan_out_plain.py").write_text(FAN_OUT_PYTHON)
        script, plain, arguments = tmp / "fan_out.py", tmp / "fan_out_plain.py", [str(root), str(CHILDREN)]
        harness = [str(Path(mage).parent / "python"), str(HARNESS), "run", str(root), "bench"] if mage else []
        mage_run = [*harness, "--out", str(tmp / "mage-out"), "--no-outputs", "--timeout", str(TIMEOUT)]
    else:
        size, rows = (5, FRAME_ROWS) if workload == "frame" else (int(workload.split("-")[1]), 0)
        first, step = (FRAME_FIRST, FRAME_STEP) if rows else (CHAIN_FIRST, CHAIN_STEP)
        write_project(root, Workload(workload, workload, first, step, blocks=size, rows=rows, warmup_blocks=1))
        (tmp / "flow.py").write_text(FLOW_SCRIPT)
        (tmp / "plain.py").write_text(PYTHON_SCRIPT)
        script, plain, arguments = tmp / "flow.py", tmp / "plain.py", [str(root), str(size)]
        mage_run = [mage, "run", str(root), "bench"] if mage else []
    rows_argument = [str(FRAME_ROWS if workload == "frame" else 0)] if workload != "fan-out" else []
    found |= {
        "hand-written flow, persist": Column(
            [sys.executable, str(script), *arguments, "persist", *rows_argument], None
        ),
        "hand-written flow, no persist": Column(
            [sys.executable, str(script), *arguments, "none", *rows_argument], None
        ),
        "plain Python": Column([sys.executable, str(plain), *arguments, "none", *rows_argument], {**os.environ}),
    }
    if mage:
        found = {"Mage": Column(mage_run, mage_env), **found}
    return found


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, bool, str]:
    """Seconds, peak RSS in MiB, success and stdout of one process (RSS by GNU time: its own)."""
    report = cwd / "rss.txt"
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        (cwd / "last-failure.log").write_text(done.stdout[-5000:] + done.stderr[-5000:])
    kib = report.read_text().split()[-1] if report.exists() else "0"
    return seconds, int(kib) / 1024 if kib.isdigit() else 0.0, done.returncode == 0, done.stdout


def _on_the_local_server(env: dict[str, str]) -> dict[str, str]:
    """`env` with PREFECT_API_URL at the local server (started if a `first` case stopped it)."""
    started = subprocess.run(
        [str(BIN / "mage-prefect"), "server", "start"], env=env, check=True, capture_output=True, text=True
    )
    return {**env, "PREFECT_API_URL": started.stdout.split("API ", 1)[1].split(" ", 1)[0]}


def _settle(env: dict[str, str], timeout: float = 180) -> None:
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


WORKLOADS = ("chain-1", "chain-50", "chain-1000", "frame", "fan-out")
LABELS = {
    "chain-1": "1 trivial block",
    "chain-50": "50-block chain",
    "chain-1000": "1,000-block chain",
    "frame": "5-block chain of a 2M × 10 DataFrame",
    "fan-out": "dynamic block → 1,000 children",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mage", default=str(HERE.parent / ".venv-mage" / "bin" / "mage"))
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=WORKLOADS)
    args = parser.parse_args()
    mage = str(Path(args.mage).absolute()) if Path(args.mage).exists() else None
    tmp = Path(tempfile.mkdtemp(prefix="mage-prefect-cli-bench-"))
    server_env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home")}
    server_env.pop("PREFECT_API_URL", None)
    mage_prefect = str(BIN / "mage-prefect")
    try:
        # once: the local server's very first start, which also creates and migrates its database
        creation, *_ = timed([mage_prefect, "server", "start"], server_env, tmp)
        print(f"first server start on a new PREFECT_HOME (database created): {creation:.2f} s", flush=True)
        table: dict[str, dict[str, list[tuple[float, float]]]] = {}
        failures: dict[tuple[str, str], int] = {}
        for workload in args.workloads:
            found = columns(tmp, mage, workload)
            table[workload] = {name: [] for name in found}
            for round_ in range(args.repeat):
                for name, column in found.items():
                    if column.restarts:  # the first run of the day: no server running, its database exists
                        subprocess.run([mage_prefect, "server", "stop"], env=server_env, capture_output=True)
                    env = column.env or _on_the_local_server(server_env)
                    seconds, rss, ok, output = timed(column.command, env, tmp)
                    if not name.startswith(("Mage", "plain")):  # cases that ran on the server
                        _settle(server_env)
                    if ok:
                        table[workload][name].append((seconds, rss))
                    else:
                        failures[workload, name] = failures.get((workload, name), 0) + 1
                    print(
                        f"[{round_ + 1}/{args.repeat}] {workload:<11} {name:<30} {seconds:6.2f} s {rss:7.0f} MiB"
                        + ("" if ok else "  FAILED")
                        + _mages_own_timing(name, output),
                        flush=True,
                    )
        print(report(table, failures, args.repeat))
        print(
            f"\nThe local server's very first start (it creates its database): {creation:.2f} s, once per PREFECT_HOME."
        )
    finally:
        subprocess.run([mage_prefect, "server", "stop"], env=server_env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _mages_own_timing(name: str, output: str) -> str:
    """For a trigger run by Mage's scheduler (the harness): the run alone, as Mage's server would run it."""
    if name != "Mage" or not output.lstrip().startswith("{"):
        return ""
    timings = json.loads(output).get("timings") or {}
    return f"  (of which the pipeline run: {timings['execute']:.2f} s)" if "execute" in timings else ""


def _median(runs: list[tuple[float, float]], index: int = 0) -> float | None:
    return statistics.median(run[index] for run in runs) if runs else None


def report(table, failures, repeat: int) -> str:
    names = list(next(iter(table.values())))
    lines = [
        f"\nWhole process wall time, median of {repeat} (min–max), fresh process each",
        "",
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    for workload, found in table.items():
        cells = [cell([run[0] for run in found[name]], failures.get((workload, name), 0)) for name in names]
        lines.append(f"| {LABELS[workload]} | " + " | ".join(cells) + " |")
    lines += ["", "Peak memory (RSS), median of the runs' maxima", "", "| workload | " + " | ".join(names) + " |"]
    lines.append("|---|" + "--:|" * len(names))
    for workload, found in table.items():
        cells = [f"{_median(found[name], 1):.0f} MiB" if found[name] else "–" for name in names]
        lines.append(f"| {LABELS[workload]} | " + " | ".join(cells) + " |")
    lines.append("")
    for workload, found in table.items():
        ratios = {name: _median(found[name]) for name in names}
        ours = ratios["mage-prefect run (repeat)"]
        parts = [
            f"{ours / ratios[other]:.2f}× {other}"
            for other in ("Mage", "hand-written flow, persist", "hand-written flow, no persist")
            if ours and ratios.get(other)
        ]
        if ratios.get("Mage") and ratios.get("mage-prefect run (first)"):
            parts.append(f"first run {ratios['mage-prefect run (first)'] / ratios['Mage']:.2f}× Mage")
        lines.append(f"{LABELS[workload]}: repeat run " + ", ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

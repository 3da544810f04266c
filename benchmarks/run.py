"""Benchmark mage-prefect against plain Python and a hand-written Prefect flow.

    .venv/bin/python benchmarks/run.py [--repeat N]

Starts one Prefect server (own temporary PREFECT_HOME), runs every workload x mode case in a
fresh subprocess (see cases.py) against it, stops the server, and prints a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from cases import MODES, SETTLE_SECONDS, WORKLOADS

from mage_prefect.local_server import local_server

HERE = Path(__file__).resolve().parent
CASE_TIMEOUT = 900  # seconds per subprocess
PER_BLOCK_TARGET = 1.2  # mage-prefect per-block overhead <= 1.2 x the hand-written flow's
FRAME_TIME_TARGET = 0.5  # mage-prefect time on the DataFrame chain <= 0.5 x the hand-written flow's
FRAME_MEMORY_TARGET_MB = 1024  # mage-prefect peak RSS on the DataFrame chain < 1 GiB


class CaseFailed(RuntimeError):
    pass


def run_case(workload: str, mode: str, workdir: Path, env: dict[str, str], heartbeat: bool) -> dict:
    """One case in a fresh interpreter; returns its measurements (see cases.main)."""
    workdir.mkdir(parents=True)
    out, log = workdir / "result.json", workdir.parent / f"{workdir.name}.log"
    try:
        with open(log, "wb") as log_file:
            process = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "cases.py"),
                    workload,
                    mode,
                    str(workdir),
                    str(out),
                    *(["--heartbeat"] if heartbeat else []),
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=CASE_TIMEOUT,
            )
        if process.returncode != 0 or not out.exists():
            raise CaseFailed(f"{workload}/{mode} exited {process.returncode}:\n{log.read_text()[-4000:]}")
        return json.loads(out.read_text())
    except subprocess.TimeoutExpired as exc:
        raise CaseFailed(f"{workload}/{mode} took over {CASE_TIMEOUT} s") from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # results can be GBs


def client_env(api_url: str, home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") and key != "MAGE_PREFECT_RESULTS"
    }
    env.update(PREFECT_API_URL=api_url, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def overhead_per_block(results: dict, workload: str, mode: str) -> float:
    """(median time - median direct time) / blocks, in seconds."""
    floor = median(results[workload, "direct"], "seconds")
    return (median(results[workload, mode], "seconds") - floor) / WORKLOADS[workload].blocks


# -- report ------------------------------------------------------------------------------------------
def environment() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("mage-prefect", "prefect", "pandas", "numpy", "pyarrow")
    )
    commit = (
        subprocess.run(
            ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    return [
        ("CPU", f"{cpu} ({os.cpu_count()} logical CPUs, {usable} usable)"),
        ("Memory", f"{memory:.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("Packages", versions),
        ("Commit", commit),
    ]


def duration(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 0.1 else f"{seconds * 1000:.3g} ms"


def size(mib: float) -> str:
    return f"{mib:.1f} MiB" if mib >= 1 else f"{mib * 1024:.0f} KiB"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ratio(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def report(results: dict[tuple[str, str], list[dict]], repeat: int, heartbeat: bool) -> str:
    lines = [
        "## Benchmark results",
        "",
        "| Workload | Mode | Time | × direct | × prefect | Overhead / block (ms) | Peak RSS (MiB) "
        "| Stored (size / files) |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, workload in WORKLOADS.items():
        floor, base = results.get((name, "direct")), results.get((name, "prefect"))
        for mode in MODES:
            runs = results.get((name, mode))
            if not runs:
                lines.append(f"| {workload.description} | {mode} | FAILED | | | | | |")
                continue
            seconds = median(runs, "seconds")
            cells = [
                duration(seconds),
                ratio(seconds / median(floor, "seconds")) if floor else "",
                ratio(seconds / median(base, "seconds")) if base else "",
                f"{overhead_per_block(results, name, mode) * 1000:.1f}" if floor and mode != "direct" else "",
                f"{median(runs, 'peak_rss_mb'):.0f}",
                f"{size(median(runs, 'stored_mb'))} / {runs[0]['stored_files']}" if mode != "direct" else "–",
            ]
            lines.append(f"| {workload.description} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", "| Target | Measured | Result |", "|---|---|---|", *targets(results)]
    tiny = WORKLOADS["frame"]
    lines += [
        "",
        "How it was measured:",
        "",
        "- direct = the block functions called in plain Python; prefect = a hand-written flow of "
        "`@task(persist_result=True)` tasks (default cache policy and pickle serializer); mage-prefect = "
        "`run_pipeline()` on a generated Mage project with the same block files.",
        f"- Every case runs in a fresh subprocess against one local Prefect server "
        f"({'median of ' + str(repeat) + ' timed runs' if repeat > 1 else 'one timed run'} per case), after "
        f"one untimed warm-up run of the same mode on a tiny input ({tiny.warmup_blocks} blocks, "
        f"{tiny.warmup_rows:,} rows).",
        "- Time covers only the flow call (both flows are built beforehand: the hand-written one at import, "
        "mage-prefect's by `build_flow()`); per-block overhead = (time − direct time) / blocks.",
        "- Peak RSS is the subprocess's `ru_maxrss` right after the timed run, so it includes imports and the warm-up.",
        "- "
        + (
            "Prefect's flow-run heartbeat was on (its default), so every Prefect flow call ends on a whole second."
            if heartbeat
            else "Prefect's flow-run heartbeat was off in both Prefect modes: its thread sleeps in "
            "1 s steps and is joined at flow exit, rounding every flow call up to a whole second "
            "(`--heartbeat` keeps it)."
        ),
        f"- The timed run starts {SETTLE_SECONDS} s after the warm-up: until the server has recorded the warm-up, "
        'creating a flow run can hit SQLite\'s "database is locked" (HTTP 503) and a ~2 s client retry.',
    ]
    lines += ["", "| Environment | |", "|---|---|", *(f"| {key} | {value} |" for key, value in environment())]
    return "\n".join(lines)


def targets(results: dict[tuple[str, str], list[dict]]) -> list[str]:
    def have(*keys):
        return all(results.get(key) for key in keys)

    rows = []
    if have(("chain", "direct"), ("chain", "prefect"), ("chain", "mage-prefect")):
        mine, theirs = (overhead_per_block(results, "chain", mode) * 1000 for mode in ("mage-prefect", "prefect"))
        rows.append(
            f"| Chain: mage-prefect per-block overhead ≤ {PER_BLOCK_TARGET}× prefect's | "
            f"{mine:.1f} ms vs {theirs:.1f} ms ({mine / theirs:.2f}×) | {verdict(mine <= PER_BLOCK_TARGET * theirs)} |"
        )
    if have(("frame", "prefect"), ("frame", "mage-prefect")):
        mine, theirs = (median(results["frame", mode], "seconds") for mode in ("mage-prefect", "prefect"))
        rows.append(
            f"| DataFrame: mage-prefect time ≤ {FRAME_TIME_TARGET}× prefect's | "
            f"{mine:.2f} s vs {theirs:.2f} s ({mine / theirs:.2f}×) | {verdict(mine <= FRAME_TIME_TARGET * theirs)} |"
        )
        peak, theirs_peak = (median(results["frame", mode], "peak_rss_mb") for mode in ("mage-prefect", "prefect"))
        rows.append(
            f"| DataFrame: mage-prefect peak RSS < 1 GiB | {peak:.0f} MiB (prefect: {theirs_peak:.0f} MiB, "
            f"{peak / theirs_peak:.2f}×) | {verdict(peak < FRAME_MEMORY_TARGET_MB)} |"
        )
    return rows


# -- main --------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per case; the report shows medians")
    parser.add_argument(
        "--heartbeat",
        action="store_true",
        help="keep Prefect's flow-run heartbeat (rounds each flow call up to a whole second)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped on kill too

    results: dict[tuple[str, str], list[dict]] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="mage-prefect-bench-") as tmp:
        tmp = Path(tmp)
        print("starting Prefect server…", flush=True)
        with local_server(tmp / "server-home") as api_url:
            print(f"Prefect server at {api_url}", flush=True)
            env = client_env(api_url, tmp / "client-home")
            for attempt in range(1, args.repeat + 1):
                for workload in WORKLOADS:
                    for mode in MODES:
                        label = f"[{attempt}/{args.repeat}] {workload:<6} {mode:<13}"
                        print(f"{label} …", end=" ", flush=True)
                        try:
                            run = run_case(
                                workload, mode, tmp / "cases" / f"{workload}-{mode}-{attempt}", env, args.heartbeat
                            )
                        except CaseFailed as exc:
                            failed = True
                            print(f"FAILED\n{exc}", flush=True)
                            continue
                        results.setdefault((workload, mode), []).append(run)
                        print(
                            f"{duration(run['seconds']):>10}  peak RSS {run['peak_rss_mb']:5.0f} MiB "
                            f"({run['peak_before_mb']:.0f} MiB before the timed run)",
                            flush=True,
                        )
        print("Prefect server stopped\n")
    print(report(results, args.repeat, args.heartbeat))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the server and temporary files are already cleaned up
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)

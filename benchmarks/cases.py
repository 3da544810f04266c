"""One benchmark case in a fresh process: `cases.py <workload> <mode> <workdir> <result.json> [--heartbeat]`.

Every mode runs the same block functions, taken from the same generated Mage block files:

- direct:       the functions called one after another (the floor);
- prefect:      a hand-written Prefect flow, tasks with Prefect's default persistence
                (persist_result=True, default cache policy, pickle, result_storage a Path);
- mage-prefect: `mage_prefect.api.run_pipeline` on the generated Mage project.

One untimed warm-up run of the same mode on a tiny input precedes the timed run. Only the flow
call (for direct: the chain of calls) is timed; peak RSS is read right after it, before checks.

Two Prefect effects that would swamp the numbers with noise are avoided, equally for both modes:
- the flow-run heartbeat is off unless `--heartbeat` is given: its thread sleeps in 1 s steps and
  is joined when the flow ends, which rounds every flow call up to the next whole second;
- the timed run starts SETTLE_SECONDS after the warm-up: until the server has recorded the
  warm-up's task runs, creating a flow run may fail on SQLite's "database is locked" (HTTP 503),
  and the client retries only after ~2 s.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = """if '{decorator}' not in globals():
    from mage_ai.data_preparation.decorators import {decorator}
"""
CHAIN_FIRST = """
@data_loader
def load_data(*args, **kwargs):
    return 1
"""
CHAIN_STEP = """
@transformer
def transform(value, *args, **kwargs):
    return value + 1
"""
FRAME_FIRST = """import numpy as np
import pandas as pd

@data_loader
def load_data(*args, **kwargs):
    rows = int(kwargs['rows'])
    return pd.DataFrame(np.random.default_rng(0).random((rows, 10)), columns=[f'c{i}' for i in range(10)])
"""
FRAME_STEP = """
@transformer
def transform(df, *args, **kwargs):
    return df * 1.0001
"""


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    first: str  # source of the data loader
    step: str  # source of every transformer
    blocks: int
    rows: int  # the `rows` variable (ignored by the chain)
    warmup_blocks: int = 2
    warmup_rows: int = 1_000

    def size(self, pipeline: str) -> tuple[int, int]:
        """(blocks, rows) of the `bench` or the `warmup` pipeline."""
        return (self.blocks, self.rows) if pipeline == "bench" else (self.warmup_blocks, self.warmup_rows)


WORKLOADS = {
    "chain": Workload("chain", "50 trivial blocks (value + 1)", CHAIN_FIRST, CHAIN_STEP, blocks=50, rows=0),
    "frame": Workload(
        "frame", "5 blocks, 2,000,000 x 10 float64 DataFrame", FRAME_FIRST, FRAME_STEP, blocks=5, rows=2_000_000
    ),
}
MODES = ("direct", "prefect", "mage-prefect")


# -- the Mage project ------------------------------------------------------------------------------
def block_uuid(index: int) -> str:
    return "load_data" if index == 0 else f"transform_{index:02d}"


def write_project(root: Path, workload: Workload) -> None:
    """A Mage project with pipelines `bench` and `warmup` (the same blocks, fewer and smaller)."""
    (root / "data_loaders").mkdir(parents=True)
    (root / "transformers").mkdir()
    (root / "metadata.yaml").write_text("project_type: standalone\nvariables_dir: ~/.mage_data\n")
    for index in range(workload.blocks):
        folder, decorator, body = (
            ("data_loaders", "data_loader", workload.first)
            if index == 0
            else ("transformers", "transformer", workload.step)
        )
        (root / folder / f"{block_uuid(index)}.py").write_text(HEADER.format(decorator=decorator) + body)
    for pipeline in ("bench", "warmup"):
        blocks, rows = workload.size(pipeline)
        lines = ["blocks:"]
        for index in range(blocks):
            upstream = f"\n  - {block_uuid(index - 1)}" if index else " []"
            # Mage schedules a block's downstream blocks from this list (as its UI writes it), not
            # from upstream_blocks: without it, `mage run` runs the first block only
            downstream = f"\n  - {block_uuid(index + 1)}" if index + 1 < blocks else " []"
            kind = "data_loader" if index == 0 else "transformer"
            lines.append(
                f"- uuid: {block_uuid(index)}\n  type: {kind}\n  upstream_blocks:{upstream}"
                f"\n  downstream_blocks:{downstream}"
            )
        lines += [f"name: {pipeline}", "type: python", f"uuid: {pipeline}", f"variables:\n  rows: {rows}"]
        folder = root / "pipelines" / pipeline
        folder.mkdir(parents=True)
        (folder / "metadata.yaml").write_text("\n".join(lines) + "\n")


def block_functions(root: Path, workload: Workload) -> list[Callable]:
    """The project's block functions as plain Python functions (compiled from the block files)."""
    functions = []
    for index in range(workload.blocks):
        path = root / ("data_loaders" if index == 0 else "transformers") / f"{block_uuid(index)}.py"
        namespace: dict[str, Any] = {"data_loader": lambda f: f, "transformer": lambda f: f}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        functions.append(namespace["load_data" if index == 0 else "transform"])
    return functions


# -- the three modes: each returns run(pipeline) -> what the run returned ------------------------
RESULTS = {"warmup": "warmup-results", "bench": "results"}  # per pipeline, under the workdir
SETTLE_SECONDS = 2


def direct_runner(workload: Workload, functions: list[Callable], workdir: Path):
    def run(pipeline: str) -> Any:
        blocks, rows = workload.size(pipeline)
        value = functions[0](rows=rows)
        for function in functions[1:blocks]:
            value = function(value)
        return value

    return run


def prefect_runner(workload: Workload, functions: list[Callable], workdir: Path):
    from prefect import flow, task

    def tasks(pipeline: str) -> list:
        blocks, _ = workload.size(pipeline)
        return [
            task(function, name=block_uuid(index), persist_result=True, result_storage=workdir / RESULTS[pipeline])
            for index, function in enumerate(functions[:blocks])
        ]

    prepared = {pipeline: tasks(pipeline) for pipeline in RESULTS}

    @flow(name="hand-written-chain")
    def chain(pipeline: str) -> Any:
        first, *rest = prepared[pipeline]
        value = first(rows=workload.size(pipeline)[1])
        for step in rest:
            value = step(value)
        return value

    return chain


def mage_prefect_runner(root: Path, workdir: Path):
    """The pipelines' flows, built before timing (as the hand-written flow is defined at import)."""
    from mage_prefect.api import build_flow, load_project

    project = load_project(root)
    flows = {pipeline: build_flow(project, pipeline, results=workdir / RESULTS[pipeline]) for pipeline in RESULTS}
    return lambda pipeline: flows[pipeline](return_state=True)


# -- checks (after measuring) ------------------------------------------------------------------------
def expected_ok(workload: Workload, index: int, value: Any, rows: int) -> bool:
    if workload.name == "chain":
        return value == index + 1
    return getattr(value, "shape", None) == (rows, 10) and bool(value.dtypes.eq("float64").all())


def check(workload: Workload, mode: str, root: Path, results: Path, value: Any) -> list[Path]:
    """Raise unless the run succeeded and every block's output is there; returns the stored files."""
    if mode == "mage-prefect":
        from mage_prefect.api import get_outputs
        from mage_prefect.project.validate import load_project

        if not value.is_completed():
            raise RuntimeError(f"pipeline run failed: {value}")
        project = load_project(root, "bench")
        for index in range(workload.blocks):
            outputs = get_outputs(project, "bench", block_uuid(index), results=results)
            if len(outputs) != 1 or not expected_ok(workload, index, outputs[0], workload.rows):
                raise RuntimeError(f"block {block_uuid(index)}: unexpected stored output")
    elif not expected_ok(workload, workload.blocks - 1, value, workload.rows):
        raise RuntimeError(f"unexpected final value: {value!r:.200}")
    files = [path for path in results.rglob("*") if path.is_file()] if results.exists() else []
    if mode == "prefect" and len(files) < workload.blocks:
        raise RuntimeError(f"expected {workload.blocks} persisted results, found {len(files)}")
    return files


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def prefect_settings(mode: str, heartbeat: bool):
    """A context without Prefect's flow-run heartbeat (for the Prefect modes, unless asked for)."""
    if mode == "direct" or heartbeat:
        return contextlib.nullcontext()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def main(workload_name: str, mode: str, workdir: str, out: str, heartbeat: bool = False) -> None:
    workload, workdir = WORKLOADS[workload_name], Path(workdir)
    root = workdir / "project"
    write_project(root, workload)
    if mode == "mage-prefect":
        run = mage_prefect_runner(root, workdir)
    else:
        runner = direct_runner if mode == "direct" else prefect_runner
        run = runner(workload, block_functions(root, workload), workdir)
    with prefect_settings(mode, heartbeat):
        run("warmup")
        if mode != "direct":
            time.sleep(SETTLE_SECONDS)
        peak_before = peak_rss_mb()
        started = time.perf_counter()
        value = run("bench")
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()

    files = check(workload, mode, root, workdir / RESULTS["bench"], value)
    Path(out).write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": peak,
                "peak_before_mb": peak_before,
                "stored_mb": sum(path.stat().st_size for path in files) / 2**20,
                "stored_files": len(files),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:5], heartbeat="--heartbeat" in sys.argv[5:])

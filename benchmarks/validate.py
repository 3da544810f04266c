"""Benchmark `validate` on a 1,000-block pipeline (target: under 0.5 s), as Mage's UI writes one.

    .venv/bin/python benchmarks/validate.py [--repeat N] [--blocks N]

Reads and checks the project in this process (the loader, the contract, every block file parsed)
after one warm-up, and times the whole `mage-prefect validate` command too (imports included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.5  # the speed issue: validate or compile of a 1,000-block pipeline
MAGE_BLOCK = """- all_upstream_blocks_executed: true
  color: null
  configuration: {{}}
  downstream_blocks: [{downstream}]
  executor_config: null
  executor_type: local_python
  has_callback: false
  language: python
  name: {uuid}
  retry_config: null
  status: executed
  timeout: null
  type: transformer
  upstream_blocks: [{upstream}]
  uuid: {uuid}
"""
CODE = """if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def transform(*args, **kwargs):
    return (args[0] if args else 0) + 1
"""


def make_project(root: Path, blocks: int) -> Path:
    (root / "pipelines" / "wide").mkdir(parents=True)
    (root / "transformers").mkdir()
    (root / "metadata.yaml").write_text("project_type: standalone\nvariables_dir: ~/.mage_data\n")
    uuids = [f"step_{index:04d}" for index in range(blocks)]
    entries = []
    for index, uuid in enumerate(uuids):
        entries.append(
            MAGE_BLOCK.format(
                uuid=uuid,
                upstream=uuids[index - 1] if index else "",
                downstream=uuids[index + 1] if index + 1 < blocks else "",
            )
        )
        (root / "transformers" / f"{uuid}.py").write_text(CODE)
    (root / "pipelines" / "wide" / "metadata.yaml").write_text(
        "blocks:\n" + "".join(entries) + "name: wide\ntype: python\nuuid: wide\nvariables: {}\n"
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=1000)
    args = parser.parse_args()
    from mage_prefect.project.validate import check_project

    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder) / "wide_project", args.blocks)
        _, diagnostics = check_project(root)  # warm-up, and the project must be clean
        assert not diagnostics, [d.format() for d in diagnostics[:5]]
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            check_project(root)
            timings.append(time.perf_counter() - started)
        command = [str(Path(sys.executable).parent / "mage-prefect"), "validate", str(root)]
        walls = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls.append(time.perf_counter() - started)
    median, wall = statistics.median(timings), statistics.median(walls)
    print(
        f"| validate, {args.blocks}-block pipeline | in process | {median:.3f} s | target < {TARGET_SECONDS:g} s | "
        f"{'PASS' if median < TARGET_SECONDS else 'FAIL'} |"
    )
    print(
        f"| validate, {args.blocks}-block pipeline | `mage-prefect validate` command | {wall:.3f} s | (imports "
        f"included) | |"
    )
    sys.exit(0 if median < TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()

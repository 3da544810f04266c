"""Benchmark what crash-safe outputs cost per block: `OutputStore.save` of one small output (the
file under a temporary name and renamed, plus the block's completion record) against Prefect's own
`ResultStore.write` of the same value (one file, written in place).

    .venv/bin/python benchmarks/writes.py [--repeat N] [--writes N]

Target: the difference stays under 10 % of the 50-block chain's per-block overhead (benchmarks/run.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from prefect.filesystems import LocalFileSystem  # noqa: E402
from prefect.results import ResultStore  # noqa: E402
from prefect.serializers import JSONSerializer  # noqa: E402

from mage_prefect.results.store import OutputStore  # noqa: E402

CHAIN_OVERHEAD_MS = 6.0  # the chain's per-block overhead in the README's benchmark figures


def per_write_ms(write, run: str, count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        write(run, index)
    return (time.perf_counter() - started) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--writes", type=int, default=500)
    options = parser.parse_args()
    ours, prefects = [], []
    with tempfile.TemporaryDirectory() as folder:
        store = OutputStore(Path(folder) / "ours")
        plain = ResultStore(
            result_storage=LocalFileSystem(basepath=f"{folder}/prefect"),
            serializer=JSONSerializer(),
            cache_result_in_memory=False,
        )
        for repeat in range(options.repeat + 1):  # the first round warms up
            run = f"run-{repeat}"
            mine = per_write_ms(lambda r, i: store.save("p", r, f"b{i}", [i], publish=False), run, options.writes)
            theirs = per_write_ms(lambda r, i: plain.write(i, key=f"{r}/b{i}/output_0.json"), run, options.writes)
            if repeat:
                ours.append(mine)
                prefects.append(theirs)
    mine, theirs = statistics.median(ours), statistics.median(prefects)
    extra = mine - theirs
    ok = extra <= 0.1 * CHAIN_OVERHEAD_MS
    print("| Write of one small output | Time per block (ms) |\n|---|--:|")
    print(f"| Prefect ResultStore.write (in place, one file) | {theirs:.3f} |")
    print(f"| mage-prefect OutputStore.save (atomic, + completion record) | {mine:.3f} |")
    print(
        f"| difference vs 10 % of the chain's {CHAIN_OVERHEAD_MS} ms per-block overhead | {extra:+.3f} ms "
        f"({'PASS' if ok else 'FAIL'}) |"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`kill -9` of a run, the way production fails (an OOM kill, a node going away), then `--resume`:
against a real Prefect server, counting each block's executions in a file. Finished blocks never run
again, nothing truncated is ever reused, the final outputs equal an uninterrupted run's, and the
killed flow run ends Crashed on the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mage_prefect.results.store import OutputStore
from tests.e2e.conftest import BIN, BUCKET, mage_prefect

pytestmark = pytest.mark.e2e

ROWS = 1_500_000  # large enough that writing the block's output takes a while
BLOCKS = {
    "data_loaders/start.py": "@data_loader\ndef start(*args, **kwargs):\n    count('start')\n    return [1, 2, 3]\n",
    "transformers/wait.py": (
        "import time\n\n@transformer\ndef wait(values, *args, **kwargs):\n    count('wait')\n"
        "    while not os.path.exists(os.environ['GO_FILE']):\n        time.sleep(0.05)\n    return sum(values)\n"
    ),
    "transformers/frame.py": (
        "import numpy as np\nimport pandas as pd\n\n@transformer\ndef frame(total, *args, **kwargs):\n"
        "    count('frame')\n    rows = int(os.environ['ROWS'])\n"
        "    return pd.DataFrame(np.random.default_rng(total).random((rows, 4)), columns=list('abcd'))\n"
    ),
    "transformers/records.py": (
        "@transformer\ndef records(total, *args, **kwargs):\n    count('records')\n"
        "    return {'rows': [(i, str(i)) for i in range(int(os.environ['ROWS']))]}\n"  # one output; tuples: pickled
    ),
    "transformers/pair.py": (
        "import pandas as pd\n\n@transformer\ndef pair(frame, *args, **kwargs):\n    count('pair')\n"
        "    return [frame, frame * 2]\n"
    ),
    "data_exporters/finish.py": (
        "@data_exporter\ndef finish(records, pair, *args, **kwargs):\n    count('finish')\n"
        "    first, second = pair\n"
        "    return {'records': len(records['rows']), 'pair': [len(first), float(second['a'].sum())]}\n"
    ),
}
PIPELINE = (
    "blocks:\n"
    "- {uuid: start, type: data_loader, upstream_blocks: []}\n"
    "- {uuid: wait, type: transformer, upstream_blocks: [start]}\n"
    "- {uuid: frame, type: transformer, upstream_blocks: [wait]}\n"
    "- {uuid: records, type: transformer, upstream_blocks: [wait]}\n"
    "- {uuid: pair, type: transformer, upstream_blocks: [frame]}\n"
    "- {uuid: finish, type: data_exporter, upstream_blocks: [records, pair]}\n"
    "concurrency_config: {block_run_limit: 1}\n"
)
COUNTER = (
    "import os\n\ndef count(name):\n    with open(os.environ['COUNT_FILE'], 'a') as f:\n"
    "        f.write(name + '\\n')\n\n"
)


def _project(root: Path, pipeline: str, metadata: str, blocks: dict[str, str]) -> Path:
    """A Mage project of one pipeline whose block files count their executions (COUNTER)."""
    (root / "pipelines" / pipeline).mkdir(parents=True)
    (root / "metadata.yaml").write_text(f"project_uuid: {root.name}\n")
    (root / "pipelines" / pipeline / "metadata.yaml").write_text(metadata)
    for path, code in blocks.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(COUNTER + code)
    return root


@pytest.fixture()
def crashing(tmp_path):
    root = _project(tmp_path / "crashing", "crashy", PIPELINE, BLOCKS)
    env = {**os.environ, "COUNT_FILE": str(tmp_path / "counts"), "GO_FILE": str(tmp_path / "go"), "ROWS": str(ROWS)}
    return root, env, tmp_path


def _counts(tmp_path: Path) -> dict[str, int]:
    names = (tmp_path / "counts").read_text().split() if (tmp_path / "counts").exists() else []
    return {name: names.count(name) for name in dict.fromkeys(names)}


def _run_until(root: Path, env: dict, ready, timeout: float = 240) -> str:
    """Start `mage-prefect run`, kill -9 it once `ready()` holds; the killed flow run's id."""
    process = subprocess.Popen(
        [str(BIN / "mage-prefect"), "run", str(root), "crashy"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not ready():  # polled often: on a quiet machine a temporary output file lives a few tens of ms
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.001)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    [active] = OutputStore(env.get("MAGE_PREFECT_RESULTS") or root / ".mage_prefect" / "results").runs.dead("crashy")
    return active.run_id


def _writing(root: Path, pattern: str):
    return lambda: any((root / ".mage_prefect" / "results" / "crashy").rglob(pattern))


def _resume(root: Path, env: dict, run: str = "last") -> dict:
    (Path(env["GO_FILE"])).touch()
    done = mage_prefect("run", root, "crashy", "--resume", run, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    output = mage_prefect("output", root, "crashy", "finish", "--format", "json", env=env)
    assert output.returncode == 0, output.stdout + output.stderr
    return json.loads(output.stdout)


def _state_on_server(flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.type.value


def _uninterrupted(root: Path, env: dict, tmp_path: Path) -> dict:
    (Path(env["GO_FILE"])).touch()
    done = mage_prefect("run", root, "crashy", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(mage_prefect("output", root, "crashy", "finish", "--format", "json", env=env).stdout)


def test_killed_mid_block_resumes_without_rerunning_finished_blocks(prefect_server, crashing):
    root, env, tmp_path = crashing
    killed = _run_until(root, env, lambda: _counts(tmp_path).get("wait") == 1)
    result = _resume(root, env)
    assert _counts(tmp_path) == {"start": 1, "wait": 2, "frame": 1, "records": 1, "pair": 1, "finish": 1}
    assert result == {"records": ROWS, "pair": [ROWS, pytest.approx(result["pair"][1])]}
    assert _state_on_server(killed) == "CRASHED"


@pytest.mark.parametrize(
    "pattern, rerun",
    [(".output_0.parquet.*.tmp", "frame"), (".output_0.pickle.*.tmp", "records"), (".output_1.parquet.*.tmp", "pair")],
    ids=["during-a-parquet-write", "during-a-pickle-write", "between-two-outputs"],
)
def test_killed_while_writing_outputs_reruns_that_block_and_reuses_nothing_truncated(
    prefect_server, crashing, pattern, rerun
):
    root, env, tmp_path = crashing
    expected = _uninterrupted(root, env, tmp_path)
    (tmp_path / "counts").unlink()
    _run_until(root, env, _writing(root, pattern))
    before = _counts(tmp_path)
    assert before[rerun] == 1 and "finish" not in before
    assert _resume(root, env) == expected  # the same answer as the uninterrupted run
    after = _counts(tmp_path)
    assert after[rerun] == 2  # the block whose outputs were cut off ran again
    assert all(after[name] == 1 for name in before if name != rerun)  # what had finished never ran again


def test_resume_last_picks_the_crashed_run_not_an_older_completed_one(prefect_server, crashing):
    root, env, tmp_path = crashing
    _uninterrupted(root, env, tmp_path)
    Path(env["GO_FILE"]).unlink()
    (tmp_path / "counts").unlink()
    _run_until(root, env, lambda: _counts(tmp_path).get("wait") == 1)
    _resume(root, env)
    assert _counts(tmp_path) == {"start": 1, "wait": 2, "frame": 1, "records": 1, "pair": 1, "finish": 1}
    again = mage_prefect("run", root, "crashy", "--resume", "last", env=env)
    assert again.returncode == 1 and "has no run to resume" in again.stderr  # the resumed run completed


def test_output_of_reused_blocks_is_found_after_a_resume(prefect_server, crashing):
    root, env, tmp_path = crashing
    _run_until(root, env, lambda: _counts(tmp_path).get("wait") == 1)
    _resume(root, env)
    start = mage_prefect("output", root, "crashy", "start", "--format", "json", env=env)
    assert start.returncode == 0 and json.loads(start.stdout) == [1, 2, 3], start.stderr


def test_on_s3_a_killed_run_resumes_from_its_completion_records(prefect_server, s3, crashing):
    root, env, tmp_path = crashing
    env = {**env, **{key: os.environ[key] for key in os.environ if key.startswith("AWS_")}}
    env["MAGE_PREFECT_RESULTS"] = f"s3://{BUCKET}/crashes"
    killed = _run_until(root, env, lambda: _counts(tmp_path).get("wait") == 1)
    result = _resume(root, env)
    assert _counts(tmp_path) == {"start": 1, "wait": 2, "frame": 1, "records": 1, "pair": 1, "finish": 1}
    assert result["records"] == ROWS
    assert _state_on_server(killed) == "CRASHED"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="crashes/crashy/runs/")["Contents"]
    assert not [o for o in listed if "/active/" in o["Key"]]  # no run is still recorded as going on
    assert mage_prefect("run", root, "crashy", env=env).returncode == 0  # now the latest of every block
    pruned = mage_prefect("outputs", "prune", root, "--older-than", "0h", env=env)
    assert pruned.returncode == 0 and "2 run(s) deleted, 1 kept" in pruned.stdout, pruned.stdout + pruned.stderr
    left = {o["Key"].split("/")[2] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="crashes/crashy/")["Contents"]}
    assert killed not in left and len(left - {"runs", "latest"}) == 1  # the crashed and resumed runs are gone


INCREMENTAL = {
    "data_loaders/load.py": "@data_loader\ndef load(*args, **kwargs):\n    count('load')\n    return [1, 2, 3]\n",
    "transformers/scale.py": (
        "@transformer\ndef scale(values, *args, **kwargs):\n    count('scale')\n"
        "    return [v * kwargs['factor'] for v in values]\n"
    ),
    "data_exporters/report.py": (
        "from incremental.helpers.format import label\n\n@data_exporter\ndef report(values, *args, **kwargs):\n"
        "    count('report')\n    return label(sum(values))\n"
    ),
}


@pytest.fixture()
def incremental(tmp_path):
    """A loader → transformer (reads the variable `factor`) → exporter (imports a project module)."""
    pipeline = (
        "blocks:\n- {uuid: load, type: data_loader, upstream_blocks: []}\n"
        "- {uuid: scale, type: transformer, upstream_blocks: [load]}\n"
        "- {uuid: report, type: data_exporter, upstream_blocks: [scale]}\n"
        "variables: {factor: 2}\n"
    )
    root = _project(tmp_path / "incremental", "inc", pipeline, INCREMENTAL)
    (root / "helpers").mkdir()
    (root / "helpers" / "__init__.py").write_text("")
    (root / "helpers" / "format.py").write_text("def label(total):\n    return f'total {total}'\n")
    return root, {**os.environ, "COUNT_FILE": str(tmp_path / "counts")}, tmp_path


def _incremental_run(root: Path, env: dict, *extra: str) -> tuple[dict, str]:
    before = _counts(root.parent)
    done = mage_prefect("run", root, "inc", "--incremental", *extra, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    after = _counts(root.parent)
    ran = {name for name in after if after[name] > before.get(name, 0)}
    output = mage_prefect("output", root, "inc", "report", "--format", "json", env=env)
    return ran, json.loads(output.stdout)


def test_incremental_runs_execute_exactly_the_changed_blocks(prefect_server, incremental):
    _edits_rerun_exactly_what_changed(*incremental[:2])


def test_incremental_runs_on_s3(prefect_server, s3, incremental):
    root, env, _ = incremental
    env = {**env, **{key: os.environ[key] for key in os.environ if key.startswith("AWS_")}}
    _edits_rerun_exactly_what_changed(root, {**env, "MAGE_PREFECT_RESULTS": f"s3://{BUCKET}/incremental"})


def _edits_rerun_exactly_what_changed(root: Path, env: dict) -> None:
    assert _incremental_run(root, env) == ({"load", "scale", "report"}, "total 12")  # nothing stored yet
    assert _incremental_run(root, env) == (set(), "total 12")  # nothing changed
    scale = root / "transformers" / "scale.py"
    scale.write_text(scale.read_text().replace("v * kwargs['factor']", "v * kwargs['factor'] + 1"))
    assert _incremental_run(root, env) == ({"scale", "report"}, "total 15")  # its output changed: report too
    helper = root / "helpers" / "format.py"
    helper.write_text("def label(total):\n    return f'sum {total}'\n")
    assert _incremental_run(root, env) == ({"report"}, "sum 15")  # a module the block imports
    assert _incremental_run(root, env, "--var", "factor=3") == ({"scale", "report"}, "sum 21")  # a variable
    assert _incremental_run(root, env, "--var", "factor=3", "--refresh", "load") == ({"load"}, "sum 21")
    # load ran again with the same output: the blocks below it stay unchanged

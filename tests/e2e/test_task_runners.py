"""Blocks on Prefect's distributed task runners, end to end: a Dask LocalCluster of 2 worker
processes and a local Ray instance give exactly the thread pool's states and outputs; a block that
kills its worker process fails alone, and the flow does not hang."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml

from mage_prefect import get_outputs, run_pipeline
from mage_prefect.local_server import free_port
from mage_prefect.results.store import OutputNotFound

from .conftest import BIN, HERE, copy_project, mage_prefect

pytestmark = pytest.mark.e2e

# Every runtime_checks pipeline whose blocks do not synchronise through this process's memory
# (`parallel` and `halts` meet at threading barriers)
CHECKS = [
    "dynamic",
    "gated",
    "replicas",
    "kwargs_check",
    "callbacks_check",
    "chain_fails",
    "halts_in_order",
    "flaky",
    "slow",
]


@pytest.fixture(scope="module")
def dask_cluster():
    """A Dask LocalCluster of 2 single-threaded worker processes; its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local Ray instance of 2 CPUs (`ray start --head`); its address."""
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    start = [str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def runners(dask_cluster, ray_cluster):
    return {"dask": dask_cluster, "ray": ray_cluster}


def _on_runner(project, kind: str, address: str | None = None, workers: int | None = None):
    """Set the project's `mage_prefect.task_runner` (its metadata.yaml, rewritten)."""
    metadata = project / "metadata.yaml"
    settings = yaml.safe_load(metadata.read_text()) or {}
    runner = {"type": kind, **({"address": address} if address else {}), **({"workers": workers} if workers else {})}
    settings.setdefault("mage_prefect", {})["task_runner"] = runner
    metadata.write_text(yaml.safe_dump(settings))


def _comparable(value):
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict("list")
    return value if isinstance(value, (int, float, str, bool, list, dict, tuple, type(None))) else repr(value)


def _outcome(project, pipeline: str, task_runner: str | None = None):
    """The run's final state, each block run's state, and each completed block's stored outputs."""
    run = run_pipeline(project, pipeline, task_runner=task_runner, execution_date="2026-11-30T12:00:00+00:00")
    states = {name: block["state"] for name, block in run.blocks.items()}
    outputs = {
        name: [_comparable(value) for value in _stored(project, pipeline, name, run.flow_run_id)]
        for name, state in states.items()
        if state == "Completed"
    }
    return run.state.name, states, outputs


def _stored(project, pipeline: str, run_name: str, run_id: str) -> list:
    """A block run's outputs: a dynamic child's by its run name (`cube:one`), a replica's
    (`add_one_again:add_one`) by its own uuid."""
    try:
        return get_outputs(project, pipeline, run_name, run=run_id)
    except OutputNotFound:
        return get_outputs(project, pipeline, run_name.split(":")[0], run=run_id)


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_runtime_pipelines_equal_the_thread_pool(prefect_server, tmp_path_factory, runners, kind):
    project = copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)
    _on_runner(project, kind, runners[kind])
    for pipeline in CHECKS:
        on_threads = _outcome(project, pipeline, task_runner="threads")
        assert _outcome(project, pipeline) == on_threads, pipeline
    assert on_threads[1] == {"sleepy": "Failed"}  # the block timeout works there too


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_sql_blocks_share_a_duckdb_file_across_worker_processes(prefect_server, tmp_path_factory, runners, kind):
    project = copy_project(HERE / "projects" / "warehouse", tmp_path_factory)
    # the clusters' workers started before this test: the file is named in io_config.yaml, not in
    # an environment variable they never saw
    io_config = project / "io_config.yaml"
    database = project / "warehouse.duckdb"
    io_config.write_text(io_config.read_text().replace("{{ env_var('WAREHOUSE_DUCKDB') }}", str(database)))
    _on_runner(project, kind, runners[kind])
    for pipeline in ("sales", "sales_wide"):  # sales_wide: two SQL blocks at once on one file
        on_threads = _outcome(project, pipeline, task_runner="threads")
        assert on_threads[0] == "Completed"
        assert _outcome(project, pipeline) == on_threads, pipeline


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_mlflow_runs_nest_under_the_flow_run_from_worker_processes(
    prefect_server, mlflow_server, tmp_path_factory, runners, kind
):
    from mlflow.tracking import MlflowClient

    project = copy_project(HERE / "projects" / "tracked", tmp_path_factory)
    _on_runner(project, kind, runners[kind])
    run = run_pipeline(project, "train")
    assert run.ok, run.state.message

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("tracked_tests")
    found = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`prefect.flow_run_id` = '{run.flow_run_id}'"
    )
    (parent,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["mage.block_uuid"]: r for r in found if "mlflow.parentRunId" in r.data.tags}
    assert sorted(children) == ["evaluate", "fit", "left", "right"]
    assert all(child.data.tags["mlflow.parentRunId"] == parent.info.run_id for child in children.values())
    assert children["evaluate"].data.metrics["r2"] > 0.9 and children["right"].data.metrics == {"side": 2.0}


TESTED = """\
blocks:
- {uuid: start, type: data_loader, upstream_blocks: []}
- {uuid: checked, type: transformer, upstream_blocks: [start]}
- {uuid: refused, type: transformer, upstream_blocks: [checked]}
"""
CHECKED = """
@transformer
def double(values, *args, **kwargs):
    return {'values': [v * 2 for v in values]}


@test
def test_doubled(output, *args) -> None:
    assert output['values'] == [2, 4, 6], 'not doubled'
"""


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_block_tests_pass_and_fail_on_workers_as_on_threads(prefect_server, tmp_path_factory, runners, kind):
    project = copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)
    _on_runner(project, kind, runners[kind])
    (project / "pipelines" / "tested").mkdir()
    (project / "pipelines" / "tested" / "metadata.yaml").write_text(TESTED)
    (project / "transformers" / "checked.py").write_text(CHECKED)
    # a chain: as siblings, whether `checked` starts before `refused` fails (and halts the run) is a race
    (project / "transformers" / "refused.py").write_text(
        CHECKED.replace("v * 2", "v * 3").replace("values,", "result,").replace("in values", "in result['values']")
    )

    on_threads = _outcome(project, "tested", task_runner="threads")
    on_workers = run_pipeline(project, "tested", execution_date="2026-11-30T12:00:00+00:00")

    assert _outcome(project, "tested") == on_threads
    assert on_threads[1] == {"start": "Completed", "checked": "Completed", "refused": "Failed"}
    assert "Failed to pass tests for block refused" in on_workers.blocks["refused"]["message"]  # Mage's message


CRASHING = """\
blocks:
- {uuid: start, type: data_loader, upstream_blocks: []}
- {uuid: die, type: transformer, upstream_blocks: [start]}
- {uuid: after_die, type: transformer, upstream_blocks: [die]}
- {uuid: survivor, type: transformer, upstream_blocks: [start]}
"""


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_a_block_that_kills_its_worker_crashes_alone(prefect_server, tmp_path_factory, kind):
    """On the cluster the runner starts itself (2 workers): the dead worker's block ends Crashed
    with the runner's reason, once; its sibling completes; the run ends Failed, without hanging."""
    project = copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)
    _on_runner(project, kind, workers=2)
    (project / "pipelines" / "crashing").mkdir()
    (project / "pipelines" / "crashing" / "metadata.yaml").write_text(CRASHING)
    attempts = project / "attempts.txt"
    (project / "transformers" / "die.py").write_text(
        f"import os, signal\n\n@transformer\ndef die(values, *args, **kwargs):\n"
        f"    open({str(attempts)!r}, 'a').write('died\\n')\n    os.kill(os.getpid(), signal.{signal.SIGKILL.name})\n"
    )
    (project / "transformers" / "after_die.py").write_text("@transformer\ndef after(values, *a, **k):\n    return 1\n")
    (project / "transformers" / "survivor.py").write_text(
        "@transformer\ndef survivor(values, *a, **k):\n    return [v * 10 for v in values]\n"
    )

    began = time.monotonic()
    run = run_pipeline(project, "crashing")

    assert time.monotonic() - began < 120
    assert run.state.is_failed()
    states = {name: block["state"] for name, block in run.blocks.items()}
    assert states == {"start": "Completed", "die": "Crashed", "survivor": "Completed", "after_die": "UpstreamFailed"}
    assert "worker" in run.blocks["die"]["message"].lower() and "died" in run.blocks["die"]["message"]
    assert attempts.read_text() == "died\n"  # not rerun by the runner: retries are the block's own
    assert get_outputs(project, "crashing", "survivor", run=run.flow_run_id) == [10, 20, 30]


def test_run_task_runner_option_starts_a_local_dask_cluster(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)

    result = mage_prefect("run", project, "dynamic", "--task-runner", "dask")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Completed  total" in result.stdout
    assert "dask" in result.stdout + result.stderr  # prefect-dask's own log lines: the blocks ran there

"""`mlflow_task` in real Prefect flows, against a real MLflow sqlite store: every form of the decorator,
and concurrent calls of one decorated function, each closing exactly its own run."""

import inspect
import threading
import time

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from prefect import flow, task
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from mage_prefect.mlflow import mlflow_flow, mlflow_task

CALLS = 8


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    """A temporary Prefect server (SQLite) for this module, stopped while pytest still captures its logs."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
        APILogWorker.drain_all(timeout=10)  # ship the last logs and events before the server goes away
        EventsWorker.drain_all(timeout=10)


@pytest.fixture()
def client(tmp_path, monkeypatch) -> MlflowClient:
    """A local sqlite tracking store; decorated functions read MLFLOW_TRACKING_URI when decorated."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # default artifact roots are relative to the working directory
    yield MlflowClient(uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)  # the module-level URI that task runs set, for the tests after these


def _runs(client: MlflowClient, experiment: str):
    """The one parent run of the experiment and its nested runs, oldest first."""
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    assert all(r.data.tags["prefect.flow_run_id"] == parents[0].data.tags["prefect.flow_run_id"] for r in children)
    return parents[0], children


def test_bare_decorator_on_a_plain_function_called_in_a_task(client):
    @mlflow_task
    def score(scale: float, offset: float = 0.0) -> dict:
        """Scores."""
        return {"score": 0.5 * scale + offset, "label": "not a metric"}

    assert (score.__name__, score.__doc__) == ("score", "Scores.")
    assert list(inspect.signature(score).parameters) == ["scale", "offset"]

    @task
    def evaluate(scale: float) -> dict:
        return score(scale, offset=1.0)

    @flow(name="bare_plain")
    def bare_plain(scale: float = 2.0) -> dict:
        return evaluate(scale)

    assert bare_plain() == {"score": 2.0, "label": "not a metric"}

    parent, children = _runs(client, "bare_plain")
    assert parent.data.tags["mage_prefect.kind"] == "flow"
    assert len(children) == 1
    child = children[0]
    assert child.info.status == "FINISHED"
    assert child.data.metrics == {"score": 2.0}
    assert child.info.run_name.startswith("evaluate-")  # named after the Prefect task run


def test_bare_decorator_stacked_under_task_and_the_other_forms(client):
    @task
    @mlflow_task
    def train(rows: int) -> float:
        return rows / 10

    @task
    @mlflow_task()
    def validate(rows: int) -> dict:
        return {"validated": rows}

    @task
    def inline(rows: int) -> int:
        with mlflow_task(name="inline") as run:
            assert mlflow.active_run().info.run_id == run.info.run_id
            mlflow.log_metric("inline_rows", rows)
            return rows

    assert train.name == "train" and list(inspect.signature(train.fn).parameters) == ["rows"]

    @flow(name="bare_stacked")
    @mlflow_flow
    def bare_stacked(rows: int = 30) -> tuple:
        return train(rows), validate(rows), inline(rows)

    assert bare_stacked() == (3.0, {"validated": 30}, 30)

    parent, children = _runs(client, "bare_stacked")
    assert parent.info.status == "FINISHED" and parent.data.params == {"rows": "30"}
    by_name = {r.info.run_name.split("-")[0]: r for r in children}
    assert sorted(by_name) == ["inline", "train", "validate"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert by_name["train"].data.metrics == {"train": 3.0}  # one number: named after the function
    assert by_name["validate"].data.metrics == {"validated": 30.0}
    assert by_name["inline"].data.metrics == {"inline_rows": 30.0}


def test_concurrent_calls_of_one_decorated_function_each_close_their_own_run(client):
    together = threading.Barrier(CALLS, timeout=60)  # all calls are inside their runs at the same time
    threads = set()

    @task
    @mlflow_task
    def work(index: int) -> dict:
        threads.add(threading.get_ident())
        mlflow.log_metric("index", index)  # lands in this call's own (thread-active) run
        together.wait()
        time.sleep(0.05 * (CALLS - index))  # the last to start is the first to end
        if index == 3:
            raise RuntimeError("boom")
        return {"value": index * 10}

    @flow(name="concurrent_calls", task_runner=ThreadPoolTaskRunner(max_workers=CALLS))
    @mlflow_flow
    def concurrent_calls() -> list:
        futures = [work.submit(index) for index in range(CALLS)]
        wait(futures)
        return [future.state.is_completed() for future in futures]

    assert concurrent_calls() == [index != 3 for index in range(CALLS)]
    assert len(threads) == CALLS

    parent, children = _runs(client, "concurrent_calls")
    assert parent.info.status == "FINISHED"
    assert len(children) == CALLS
    by_index = {int(r.data.metrics["index"]): r for r in children}
    assert sorted(by_index) == list(range(CALLS))
    for index, run in by_index.items():
        if index == 3:
            assert run.info.status == "FAILED" and run.data.metrics == {"index": 3.0}
        else:
            assert run.info.status == "FINISHED", (index, run.info.status)
            assert run.data.metrics == {"index": float(index), "value": index * 10.0}
    assert not [r for r in children if r.info.status == "RUNNING"]


def test_one_instance_entered_with_with_by_concurrent_task_runs(client):
    shared = mlflow_task(name="shared")
    together = threading.Barrier(CALLS, timeout=60)

    @task
    def work(index: int) -> str:
        with shared as run:
            mlflow.log_metric("index", index)
            together.wait()
            time.sleep(0.05 * (CALLS - index))
            assert mlflow.active_run().info.run_id == run.info.run_id
            if index == 5:
                raise RuntimeError("boom")
        assert mlflow.active_run() is None
        return run.info.run_id

    @flow(name="shared_instance", task_runner=ThreadPoolTaskRunner(max_workers=CALLS))
    @mlflow_flow
    def shared_instance() -> list:
        futures = [work.submit(index) for index in range(CALLS)]
        wait(futures)
        return [future.result() if future.state.is_completed() else None for future in futures]

    returned = shared_instance()

    parent, children = _runs(client, "shared_instance")
    assert len(children) == CALLS and all(r.info.run_name == "shared" for r in children)
    by_index = {int(r.data.metrics["index"]): r for r in children}
    assert sorted(by_index) == list(range(CALLS))
    assert returned == [None if index == 5 else by_index[index].info.run_id for index in range(CALLS)]
    assert [by_index[index].info.status for index in range(CALLS)] == [
        "FAILED" if index == 5 else "FINISHED" for index in range(CALLS)
    ]

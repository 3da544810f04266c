"""MLflow tracking of real pipeline runs, against a real `mlflow server` and Prefect server."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest

from mage_prefect import get_output, run_pipeline

from .conftest import BIN, HERE, copy_project, stop_session

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    return copy_project(HERE / "projects" / "tracked", tmp_path_factory)


def _runs(url: str, flow_run_id: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    experiment = client.get_experiment_by_name("tracked_tests")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`prefect.flow_run_id` = '{flow_run_id}'")
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["mage.block_uuid"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parent) == 1
    return parent[0], children


def test_pipeline_run_tree_params_metrics_tags_and_links(prefect_server, mlflow_server, tracked):
    run = run_pipeline(tracked, "train")
    assert run.ok, run.state.message

    parent, children = _runs(mlflow_server, run.flow_run_id)
    assert parent.info.status == "FINISHED" and parent.data.params == {"learning_rate": "0.1"}
    assert sorted(children) == ["evaluate", "fit", "left", "right"]  # `points` is not in `blocks`
    assert all(child.data.tags["mlflow.parentRunId"] == parent.info.run_id for child in children.values())
    assert all(child.info.status == "FINISHED" for child in children.values())
    fit = children["fit"]
    assert fit.data.params["configuration.alpha"] == "0.5" and fit.data.params["variables.learning_rate"] == "0.1"
    # sklearn autolog, inside the block's own run, though `fit` runs in a thread of its own (its timeout)
    assert fit.data.params["alpha"] == "0.5"
    from mlflow.tracking import MlflowClient

    default = MlflowClient(mlflow_server).get_experiment_by_name("Default")
    assert default is None or not MlflowClient(mlflow_server).search_runs([default.experiment_id])
    assert not (tracked.parent / "mlruns").exists()  # nothing written beside the project
    evaluate = children["evaluate"]
    assert set(evaluate.data.metrics) == {"r2", "rows"} and evaluate.data.metrics["r2"] > 0.9
    assert (
        evaluate.data.tags["mage.pipeline_uuid"] == "train"
        and evaluate.data.tags["prefect.task_run_name"] == "evaluate"
    )
    # parallel blocks log to their own runs
    assert children["left"].data.metrics == {"side": 1.0} and children["right"].data.metrics == {"side": 2.0}

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.flow_run_id]))
        )
    links = {a.data for a in artifacts if a.type == "markdown" or a.type == "link"}
    assert any(parent.info.run_id in str(link) for link in links)
    assert any(evaluate.info.run_id in str(link) for link in links)


def test_failing_block_leaves_its_run_failed_and_the_parent_closed(prefect_server, mlflow_server, tracked):
    run = run_pipeline(tracked, "fails")
    assert run.state.is_failed()

    parent, children = _runs(mlflow_server, run.flow_run_id)
    assert children["broken"].info.status == "FAILED"
    assert parent.info.status == "FAILED"


def test_promotion_only_when_the_metric_improves(prefect_server, mlflow_server, tracked):
    from mlflow.tracking import MlflowClient

    outcomes = []
    for score in (0.5, 0.4, 0.9):
        run = run_pipeline(tracked, "promote", variables={"score": score})
        assert run.ok, run.state.message
        outcomes.append(get_output(tracked, "promote", "register", run=run.flow_run_id))

    assert [o["promoted"] for o in outcomes] == [True, False, True]
    champion = MlflowClient(mlflow_server).get_model_version_by_alias("tracked_model", "champion")
    assert champion.version == outcomes[2]["version"]

    deadline, events = time.monotonic() + 20, []
    while time.monotonic() < deadline and len(events) < 2:
        response = httpx.post(
            f"{prefect_server}/events/filter",
            json={
                "filter": {
                    "event": {"name": ["mage_prefect.model.promoted"]},
                    "resource": {"id": ["mage_prefect.model.tracked_model"]},  # not other tests' models
                }
            },
        )
        events = response.json()["events"]
        time.sleep(0.5)
    assert sorted(e["payload"]["variables"]["model_version"] for e in events) == sorted(
        [outcomes[0]["version"], outcomes[2]["version"]]
    )


def test_wrappers_on_a_hand_written_prefect_flow(prefect_server, mlflow_server, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient
    from prefect import flow, task

    from mage_prefect.mlflow import mlflow_flow, mlflow_task

    report = tmp_path / "report.txt"
    report.write_text("all good")

    @task
    @mlflow_task(experiment="hand_written", artifacts=[report])
    def evaluate(scale: float) -> dict:
        return {"score": 0.5 * scale, "name": "not a metric"}

    @task
    def train(rows: int) -> int:
        with mlflow_task(experiment="hand_written", name="train"):
            mlflow.log_param("rows", rows)
            return rows

    @task
    @mlflow_task(experiment="hand_written", name="standalone", nested=False)
    def standalone() -> int:
        return 1

    @task
    @mlflow_task(experiment="hand_written")
    def explode() -> None:
        raise RuntimeError("boom")

    @flow
    @mlflow_flow(experiment="hand_written")
    def pipeline(scale: float = 2.0, fail: bool = False):
        train(10)
        standalone()
        evaluate(scale)
        if fail:
            explode()

    pipeline()
    with pytest.raises(RuntimeError):
        pipeline(fail=True)

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("hand_written")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags and r.info.run_name != "standalone"]
    assert [r.data.metrics for r in runs if r.info.run_name == "standalone"] == [{"standalone": 1.0}] * 2
    assert [p.info.status for p in parents] == ["FINISHED", "FAILED"]
    assert parents[0].data.params == {"scale": "2.0", "fail": "False"}
    # nested runs are named after their Prefect task runs (`evaluate-3e8`), or the name given
    children = {
        (r.data.tags["mlflow.parentRunId"], r.info.run_name.split("-")[0]): r
        for r in runs
        if "mlflow.parentRunId" in r.data.tags
    }
    first, second = (p.info.run_id for p in parents)
    assert children[(first, "evaluate")].data.metrics == {"score": 1.0}
    assert [a.path for a in client.list_artifacts(children[(first, "evaluate")].info.run_id)] == ["report.txt"]
    assert children[(first, "train")].data.params == {"rows": "10"}
    assert children[(second, "explode")].info.status == "FAILED"
    assert children[(first, "train")].data.tags["prefect.flow_run_id"] == parents[0].data.tags["prefect.flow_run_id"]


def test_a_promotion_starts_the_deployed_inference_pipeline(prefect_server, mlflow_server, tmp_path_factory):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from .conftest import mage_prefect

    project = copy_project(HERE / "projects" / "tracked", tmp_path_factory)
    deployed = mage_prefect("deploy", project, "--out", project.parent / "deployments", cwd=project.parent)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "mage-prefect-ml", "--type", "process"],
        cwd=project.parent,
        env={**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        promoted = run_pipeline(project, "promote", variables={"score": 0.99})
        assert promoted.ok and get_output(project, "promote", "register")["promoted"]
        version = get_output(project, "promote", "register")["version"]

        deadline, runs = time.monotonic() + 90, []
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("infer/on_new_model")
            while time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
                )
                if runs and runs[0].state and runs[0].state.is_final():
                    break
                time.sleep(1)
        assert runs and runs[0].state.is_completed(), runs and runs[0].state
        assert get_output(project, "infer", "use_new_model", run=str(runs[0].id)) == {
            "model_version": version,
            "prediction": 0.5,
        }
    finally:
        stop_session(worker)

"""Fixture pipelines run through Prefect against a real `prefect server start` on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from mage_prefect import get_output, get_outputs, run_pipeline

from .conftest import REPO, copy_project, mage_prefect, task_runs

pytestmark = pytest.mark.e2e


def test_example_ml_pipeline_runs_with_one_task_per_block(prefect_server, demo_project):
    run = run_pipeline(demo_project, "train_model", variables={"n_rows": 3000})

    assert run.ok, run.state.message
    blocks = [
        "load_customers",
        "clean_features",
        "split_dataset",
        "feature_summary",
        "training/logistic_regression",
        "evaluate_model",
        "export_report",
        "register_champion",
    ]
    assert list(run.blocks) == blocks
    assert all(outcome["state"] == "Completed" for outcome in run.blocks.values())

    recorded = task_runs(run.flow_run_id, expected=len(blocks))
    assert sorted(recorded) == sorted(blocks)
    assert {task.state.name for task in recorded.values()} == {"Completed"}

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run.flow_run_id)
        assert client.read_flow(flow_run.flow_id).name == "train_model"
    # the dependency graph comes from upstream_blocks: evaluate_model <- trainer and split
    inputs = {ref.id for refs in recorded["evaluate_model"].task_inputs.values() for ref in refs}
    assert inputs == {recorded["training/logistic_regression"].id, recorded["split_dataset"].id}

    metrics = get_output(demo_project, "train_model", "evaluate_model")
    assert metrics["test_rows"] == 750 and metrics["roc_auc"] > 0.6
    split = get_outputs(demo_project, "train_model", "split_dataset")
    assert [len(part) for part in split] == [2250, 750, 2250, 750]
    data_file = (
        demo_project
        / ".mage_prefect"
        / "results"
        / "train_model"
        / run.flow_run_id
        / "load_customers"
        / "output_0.parquet"
    )
    assert len(pd.read_parquet(data_file)) == 3000
    report = json.loads((demo_project / "exports" / "report.json").read_text())
    assert report["metrics"] == metrics and report["env"] == "dev"

    # the outputs on the flow run's page in the UI: one table artifact, one row per block, and a
    # table of each DataFrame output's first rows
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType

    deadline, artifacts = time.monotonic() + 15, {}
    with get_client(sync_client=True) as client:  # sent from a thread of its own as the run ends
        while "train-model-churn-by-contract-chart" not in artifacts and time.monotonic() < deadline:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]), type=ArtifactFilterType(any_=["table"])
                )
            )
            artifacts = {artifact.key: artifact for artifact in found}
            time.sleep(0.2)
    head = json.loads(artifacts["train-model-load-customers-output-0"].data)
    assert len(head) == 10 and set(head[0]) >= {"tenure_months", "churned"}
    assert "train-model-evaluate-model-output-0" not in artifacts  # a dict: no table
    # the chart block draws what Mage's chart builder would: churn rate and count by contract
    customers = get_output(demo_project, "train_model", "load_customers")
    chart = {row["contract"]: row for row in json.loads(artifacts["train-model-churn-by-contract-chart"].data)}
    assert list(chart) == sorted(customers["contract"].unique())
    for contract, group in customers.groupby("contract"):
        assert chart[contract]["count(churned)"] == len(group)
        assert chart[contract]["average(churned)"] == pytest.approx(group["churned"].mean())
    artifact = artifacts["train-model-outputs"]
    rows = {row["block"]: row for row in json.loads(artifact.data)}
    assert artifact.key == "train-model-outputs" and list(rows) == blocks
    assert rows["load_customers"]["outputs"].startswith("DataFrame 3,000 rows × 5 columns (")
    assert rows["evaluate_model"]["outputs"] == repr(dict(sorted(metrics.items())))
    assert rows["evaluate_model"]["stored as"] == f"train_model/{run.flow_run_id}/evaluate_model/output_0.json"


def test_failing_block_fails_its_task_and_skips_descendants(prefect_server, checks_project):
    run = run_pipeline(checks_project, "fails", allow_blocks_to_fail=True)

    assert not run.ok and run.state.is_failed()
    assert run.blocks["boom"]["state"] == "Failed"
    assert "ZeroDivisionError" in run.blocks["boom"]["message"]
    assert run.blocks["after_boom"]["state"] == "UpstreamFailed"  # never ran: its upstream failed
    assert run.blocks["after_boom"]["message"] == "not run: upstream block(s) boom did not complete"
    assert run.blocks["sibling"]["state"] == "Completed"  # an independent branch still finishes
    assert "boom" in run.state.message and "after_boom" in run.state.message
    assert get_output(checks_project, "fails", "sibling") == [2, 3, 4]

    recorded = task_runs(run.flow_run_id, expected=3)
    assert recorded["boom"].state.name == "Failed"
    # no task run for it, so none waits Pending (NotReady) forever in the UI's timeline
    assert "after_boom" not in recorded and all(task.state.is_final() for task in recorded.values())
    assert _logged(run.flow_run_id, "blocks not run, as an upstream block did not complete: after_boom (upstream")


def test_a_failed_block_stops_the_blocks_that_have_not_started(prefect_server, checks_project):
    run = run_pipeline(checks_project, "halts")  # Mage's default: allow_blocks_to_fail is false

    assert run.state.is_failed()
    assert run.blocks["fail_while_paused"]["state"] == "Failed"
    assert run.blocks["pause"]["state"] == "Completed"  # already running when the other block failed
    assert run.blocks["sibling"]["state"] == "Cancelled"  # due to start after it failed
    assert "not started (allow_blocks_to_fail is false): sibling" in run.state.message
    assert task_runs(run.flow_run_id, expected=4)["sibling"].state.name == "Cancelled"
    assert (checks_project / "callback_log" / "sibling.cancelled").read_text() == "record"  # @callback('cancelled')

    in_order = run_pipeline(checks_project, "halts_in_order")  # block_run_limit 1: one block at a time
    assert [in_order.blocks[b]["state"] for b in ("start", "boom", "sibling")] == ["Completed", "Failed", "Cancelled"]

    allowed = run_pipeline(checks_project, "halts", allow_blocks_to_fail=True)
    assert allowed.state.is_failed() and allowed.blocks["sibling"]["state"] == "Completed"


def test_cli_reports_the_failing_block_file_and_line(prefect_server, checks_project):
    result = mage_prefect("run", checks_project, "fails", "--allow-blocks-to-fail")

    assert result.returncode == 1
    output = result.stdout + result.stderr
    boom_file = checks_project / "transformers" / "boom.py"
    assert f"Block 'boom' failed at {boom_file}:4: ZeroDivisionError: division by zero" in output
    assert "✗ Failed     boom" in result.stdout and "✓ Completed  sibling" in result.stdout


def test_block_that_fails_twice_then_succeeds_is_retried(prefect_server, checks_project):
    run = run_pipeline(checks_project, "flaky")

    assert run.ok, run.state.message
    assert get_output(checks_project, "flaky", "flaky") == {"succeeded_on_attempt": 3}
    recorded = task_runs(run.flow_run_id, expected=1)
    assert recorded["flaky"].run_count == 3


def test_independent_blocks_run_concurrently(prefect_server, checks_project):
    run = run_pipeline(checks_project, "parallel")  # each block waits at a barrier for the other

    assert run.ok, run.state.message
    assert get_output(checks_project, "parallel", "join") == ["left", "right"]


def test_block_timeout_fails_the_block(prefect_server, checks_project):
    run = run_pipeline(checks_project, "slow")

    assert run.blocks["sleepy"]["state"] == "Failed"
    assert "timed out after 1 s" in run.blocks["sleepy"]["message"]


def test_kwargs_of_a_trigger_style_run(prefect_server, checks_project):
    run = run_pipeline(
        checks_project,
        "kwargs_check",
        variables={"label": "cli", "extra": [1, 2]},
        execution_date="2026-03-04T05:06:07+00:00",
    )

    assert run.ok, run.state.message
    report = get_output(checks_project, "kwargs_check", "report_kwargs")
    assert report == {
        "threshold": 0.5,
        "label": "cli",
        "extra": [1, 2],
        "env": "dev",
        "ds": "2026-03-04",
        "hr": "05",
        "pipeline_uuid": "kwargs_check",
        "block_uuid": "report_kwargs",
        "configuration": {"table": "customers"},
        "context": {},
        "event": {},
        "retry": {"attempts": 1},
        "trigger_name": None,
        "execution_date": "2026-03-04T05:06:07+00:00",
        "repo_path": str(checks_project),
        "has_logger": True,
        "cwd": str(checks_project.parent),  # blocks run in the folder holding the project, as in Mage
    }


def test_a_chain_runs_in_order_and_stops_at_the_failing_block(prefect_server, checks_project):
    run = run_pipeline(checks_project, "chain_fails")

    assert run.state.is_failed()
    assert [(name, outcome["state"]) for name, outcome in run.blocks.items()] == [
        ("start", "Completed"),
        ("boom", "Failed"),
        ("after_boom", "UpstreamFailed"),
    ]
    recorded = task_runs(run.flow_run_id, expected=2)
    assert recorded["start"].state.name == "Completed" and recorded["boom"].state.name == "Failed"
    assert _logged(run.flow_run_id, "did not complete: after_boom (upstream block(s) boom did not complete)")
    assert {ref.id for refs in recorded["boom"].task_inputs.values() for ref in refs} == {recorded["start"].id}


def test_example_predict_pipeline_scores_with_the_champion_and_aggregates_in_duckdb(prefect_server, tmp_path_factory):
    import duckdb

    project = copy_project(REPO / "pipelines" / "mlops_demo", tmp_path_factory)
    assert run_pipeline(project, "train_model", variables={"n_rows": 1000}).ok

    run = run_pipeline(project, "predict")

    assert run.ok, run.state.message
    scored = get_output(project, "predict", "score_customers")
    risk = get_output(project, "predict", "risk_by_contract")  # the SQL block's table, read back
    assert sorted(risk["contract"]) == ["month-to-month", "one-year", "two-year"]
    assert risk["customers"].sum() == len(scored) == 200
    assert risk["at_risk"].sum() == (scored["churn_probability"] >= 0.5).sum()
    # io_config's relative DUCKDB_DATABASE is relative to the folder holding the project, as in Mage
    with duckdb.connect(str(project / "exports" / "warehouse.duckdb"), read_only=True) as connection:
        stored = connection.execute("SELECT SUM(customers) FROM main.dev_predict_risk_by_contract_v1").fetchone()[0]
    assert stored == 200


def test_the_seeds_example_pipeline_runs_through_its_multi_project_root(prefect_server, tmp_path):
    """mage-ai/mlops as Mage wrote it (tests/fixtures/projects/mlops): a platform whose sub-projects
    all hold an `example_pipeline`, unit_0_setup without a project metadata.yaml, a listed
    sub-project that does not exist. Only its loader's URL points at a local copy of the data."""
    import shutil

    from mage_prefect.project.errors import ProjectError
    from tests.compat.make_fixtures import point_at_local_titanic, serve_titanic

    root = shutil.copytree(REPO / "tests" / "fixtures" / "projects" / "mlops", tmp_path / "mlops")
    with serve_titanic(tmp_path) as url:
        run = run_pipeline(point_at_local_titanic(root, url), "unit_0_setup/example_pipeline")

    assert run.ok, run.state.message
    assert list(run.blocks) == ["load_titanic", "fill_in_missing_values", "export_titanic_clean"]
    clean = get_output(root, "unit_0_setup/example_pipeline", "fill_in_missing_values")
    assert list(clean.columns) == ["Age", "Fare", "Parch", "Pclass", "SibSp", "Survived"]
    assert len(clean) == 10 and not clean.isna().any().any()  # the medians filled the gaps
    exported = pd.read_csv(tmp_path / "titanic_clean.csv", index_col=0)  # FileIO writes where Mage does
    pd.testing.assert_frame_equal(exported, clean, check_dtype=False)
    with pytest.raises(ProjectError, match="in several sub-projects"):
        run_pipeline(root, "example_pipeline")


def _logged(flow_run_id: str, text: str, timeout: float = 20) -> bool:
    """Whether a log line of the flow run holds `text`, once the server has it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            if any(text in log.message for log in logs):
                return True
            time.sleep(0.3)
    return False

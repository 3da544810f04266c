"""flows.py without a server: the Flow and Tasks built for a pipeline, and in-memory output release."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mage_prefect.flows import build_flow
from mage_prefect.handoff import BlockResult
from mage_prefect.project.validate import load_project
from mage_prefect.results.store import OutputStore

DEMO = Path(__file__).parents[2] / "pipelines" / "mlops_demo"


@pytest.fixture()
def demo(tmp_path) -> Path:
    return Path(
        shutil.copytree(DEMO, tmp_path / "mlops_demo", ignore=shutil.ignore_patterns(".mage_prefect", "exports"))
    )


def test_flow_is_named_after_the_pipeline_with_variables_as_parameters(demo):
    flow = build_flow(load_project(demo), "train_model")

    assert flow.name == "train_model"
    schema = flow.parameters.model_dump()["properties"]
    assert {name: schema[name].get("default") for name in ("n_rows", "random_state", "test_size", "C")} == {
        "n_rows": 5000,
        "random_state": 42,
        "test_size": 0.25,
        "C": 1.0,
    }
    assert {"execution_date", "runtime_variables"} <= set(schema)


def test_parameters_are_serialized_as_prefect_serializes_them(demo):
    from datetime import UTC, datetime

    from prefect import Flow

    flow = build_flow(load_project(demo), "train_model")
    parameters = {
        "n_rows": 5000,
        "C": 1.0,
        "runtime_variables": {"tags": ("a", "b"), "nested": {"x": [1, None, True]}, "text": "é"},
        "execution_date": None,
    }
    assert flow.serialize_parameters(parameters) == Flow.serialize_parameters(flow, parameters)
    dated = {"execution_date": datetime(2024, 1, 2, 3, 4, tzinfo=UTC), "nan": float("nan")}
    assert flow.serialize_parameters(dated) == Flow.serialize_parameters(flow, dated)  # not JSON: Prefect's way


def test_serializing_a_pipelines_parameters_does_not_import_fastapi(tmp_path):
    import subprocess
    import sys

    (tmp_path / "pipelines" / "one").mkdir(parents=True)
    (tmp_path / "custom").mkdir()
    (tmp_path / "metadata.yaml").write_text("project_uuid: tiny\n")
    (tmp_path / "pipelines" / "one" / "metadata.yaml").write_text("blocks:\n- {uuid: a, type: custom}\n")
    (tmp_path / "custom" / "a.py").write_text("@custom\ndef a(*args, **kwargs):\n    return 1\n")
    code = (
        "import sys; from mage_prefect.flows import build_flow; "
        "from mage_prefect.project.validate import load_project; "
        f"flow = build_flow(load_project({str(tmp_path)!r}), 'one'); "
        "flow.serialize_parameters({'n_rows': 10, 'runtime_variables': {'a': [1]}}); print('fastapi' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1:] == ["False"], done.stderr  # Prefect's encoder imports it: 0.1-0.2 s


def test_retry_config_is_merged_and_mapped_with_mages_algorithm(demo):
    import mage_prefect.tasks as tasks

    project = load_project(demo)
    pipeline = project.pipeline("train_model")
    store = OutputStore(demo / ".mage_prefect" / "results")
    # project: retries 2, delay 1, max_delay 30, exponential; the trainer overrides retries: 1
    loader = tasks.block_task(pipeline, pipeline.block("load_customers"), store, 1)
    trainer = tasks.block_task(pipeline, pipeline.block("training/logistic_regression"), store, 2)
    assert (loader.name, loader.retries, loader.retry_delay_seconds) == ("load_customers", 2, [1, 2])
    assert (trainer.name, trainer.retries, trainer.retry_delay_seconds) == ("training/logistic_regression", 1, [1])


def test_flow_version_changes_with_block_code(demo):
    before = build_flow(load_project(demo), "train_model").version
    path = demo / "transformers" / "clean_features.py"
    path.write_text(path.read_text() + "\n# edited\n")
    assert build_flow(load_project(demo), "train_model").version != before


def test_block_result_is_released_after_its_last_consumer_and_reloads_from_the_store(tmp_path):
    store = OutputStore(tmp_path)
    frame = pd.DataFrame({"x": [1, 2]})
    keys = store.save("p", "run", "b", [frame, 3])
    result = BlockResult("b", [frame, 3], keys, consumers=2, store=store)

    first, second = result.take(), result.take()
    assert first[0] is frame and second[0] is frame  # in memory while consumers remain
    assert result._outputs is None  # released after the last one
    again = result.take()  # e.g. a retried consumer
    assert again[0] is not frame and again[0].equals(frame) and again[1] == 3


def test_chains_run_in_order_and_branching_pipelines_do_not(demo):
    from mage_prefect.project.graph import is_chain

    project = load_project(demo)
    assert not is_chain(project.pipeline("train_model"))  # split_dataset and feature_summary can run together
    chain = project.pipeline("train_model").model_copy(update={"blocks": project.pipeline("train_model").blocks[:3]})
    assert is_chain(chain)


def test_importing_mage_prefect_and_running_untracked_pipelines_does_not_import_mlflow():
    import subprocess
    import sys

    code = (
        "import sys, mage_prefect, mage_prefect.flows, mage_prefect.api, mage_prefect.cli; "
        "print('mlflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_output_previews_are_one_line_and_survive_the_release_of_outputs(tmp_path):
    import numpy as np

    frame = pd.DataFrame({f"c{i}": [1.0, 2.0] for i in range(10)})
    outputs = [frame, pd.Series([1, 2, 3], name="churned"), np.zeros((3, 4)), {"text": "x" * 200, "n": 1}]
    result = BlockResult("b", outputs, [], 0, OutputStore(tmp_path))

    assert result.previews[:3] == [
        "DataFrame 2 rows × 10 columns (c0, c1, c2, c3, c4, c5, c6, c7, …)",
        "Series 3 int64 (churned)",
        "ndarray 3 × 4 float64",
    ]
    assert result.previews[3].startswith("{'n': 1, 'text': 'xxx") and len(result.previews[3]) < 100
    assert "\n" not in "".join(result.previews)


def test_a_block_run_that_failed_elsewhere_halts_the_run(run_context):
    """A worker process sets only its copy of the halt: the flow sets the run's own when a run ends
    Failed, and not when it completes or is cancelled."""
    from dataclasses import replace

    from prefect.states import Cancelled, Completed, Failed

    from mage_prefect.flows import PipelineRun
    from mage_prefect.runtime.context import Halt

    run = PipelineRun(plan=None, context=replace(run_context, halt=Halt()))
    for state in (Completed(), Cancelled()):
        run._halt_after(state)
    assert not run.context.halt.is_set()
    run._halt_after(Failed())
    assert run.context.halt.is_set()

"""Object stores: block outputs in S3 (moto's server mode) behind `results="s3://bucket/prefix"`, and
block code on S3 and GCS (gcp-storage-emulator) through Mage's connectors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from mage_prefect import get_output, get_outputs, run_pipeline
from mage_prefect.results.store import OutputStore

from .conftest import BUCKET, GCS_BUCKET, HERE, copy_project, mage_prefect

pytestmark = pytest.mark.e2e


def _object(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_a_pipeline_run_persists_every_output_to_s3(prefect_server, s3, demo_project):
    results = f"s3://{BUCKET}/mage"
    run = run_pipeline(demo_project, "train_model", variables={"n_rows": 1000}, results=results)

    assert run.ok, run.state.message
    base = f"mage/train_model/{run.flow_run_id}"
    loaded = pd.read_parquet(io.BytesIO(_object(s3, f"{base}/load_customers/output_0.parquet")))
    assert len(loaded) == 1000  # parquet data files stay plain parquet
    manifest = json.loads(_object(s3, f"{base}/outputs.json"))
    split_keys = [f"train_model/{run.flow_run_id}/split_dataset/output_{i}" for i in range(4)]
    assert manifest["split_dataset"] == [
        f"{key}.{kind}" for key, kind in zip(split_keys, ["parquet"] * 2 + ["pickle"] * 2)
    ]
    assert json.loads(_object(s3, "mage/train_model/latest/evaluate_model.json"))["run_id"] == run.flow_run_id
    assert not (demo_project / ".mage_prefect" / "results" / "train_model" / run.flow_run_id).exists()

    assert [len(part) for part in get_outputs(demo_project, "train_model", "split_dataset", results=results)] == [
        750,
        250,
        750,
        250,
    ]
    metrics = get_output(demo_project, "train_model", "evaluate_model", results=results)
    assert metrics["test_rows"] == 250

    printed = mage_prefect(
        "output", demo_project, "train_model", "evaluate_model", "--results", results, "--format", "json"
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == metrics


def test_outputs_of_a_run_still_going_are_listed_from_s3(s3):
    store = OutputStore(f"s3://{BUCKET}/listing")
    store.save("pipe", "run-1", "block", [{"a": 1}, (1, 2)], publish=False)

    assert store.load("pipe", "block", run="run-1") == [{"a": 1}, (1, 2)]  # no manifest yet: listed
    store.publish("pipe", "run-1", {"block": store.save("pipe", "run-1", "block", ["final"], publish=False)})
    assert store.load("pipe", "block") == ["final"]


def test_block_code_reads_and_writes_s3_through_mage_ai_io_s3(prefect_server, s3, tmp_path_factory):
    project = copy_project(HERE / "projects" / "warehouse", tmp_path_factory)

    run = run_pipeline(project, "lake")

    assert run.ok, run.state.message
    assert get_output(project, "lake", "lake_roundtrip") == {
        "parquet": [1, 2, 3],
        "csv": [4],
        "exists": True,
        "missing": False,
    }
    assert pd.read_parquet(io.BytesIO(_object(s3, "lake/numbers.parquet")))["n"].tolist() == [1, 2, 3]


def test_block_code_reads_and_writes_gcs_through_mage_ai_io_google_cloud_storage(prefect_server, gcs, tmp_path_factory):
    project = copy_project(HERE / "projects" / "warehouse", tmp_path_factory)
    upload = project.parent / "upload.csv"
    pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]}).to_csv(upload, index=False)

    run = run_pipeline(project, "gcs_lake", variables={"upload": str(upload)})

    assert run.ok, run.state.message
    # with_config: the key file of the profile's BigQuery section (a signed token from the key)
    assert get_output(project, "gcs_lake", "gcs_roundtrip") == {
        "parquet": [1, 2, 3],
        "csv": [4],
        "missing_is_empty": True,
        "exists": True,
        "prefix_is_not_an_object": False,
    }
    stored = gcs.bucket(GCS_BUCKET).blob("lake/numbers.parquet").download_as_bytes()
    assert pd.read_parquet(io.BytesIO(stored))["n"].tolist() == [1, 2, 3]
    # default credentials; a file path is uploaded as it is; load's limit
    assert gcs.bucket(GCS_BUCKET).blob("raw/upload.csv").download_as_bytes() == upload.read_bytes()
    assert get_output(project, "gcs_lake", "gcs_default_credentials").to_dict("list") == {
        "id": [1, 2],
        "name": ["a", "b"],
    }

"""results/: block outputs saved as Prefect result records and loaded back equal."""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass

import pandas as pd
import pytest

from mage_prefect.results.serializers import ParquetSerializer, serializer_for
from mage_prefect.results.store import OutputNotFound, OutputStore


@dataclass
class Model:
    """A user-defined object, as blocks return trained models."""

    name: str
    weights: list[float]


@pytest.fixture()
def store(tmp_path) -> OutputStore:
    return OutputStore(tmp_path / "results")


def round_trip(store, *outputs):
    keys = store.save("pipe", "run-1", "block", list(outputs))
    return keys, store.load("pipe", "block")


def test_dataframe_is_written_as_parquet_that_pandas_reads_directly(store):
    frame = pd.DataFrame({"x": [1, 2, 3], "name": ["a", "b", "c"], "when": pd.date_range("2024-01-01", periods=3)})
    keys, [loaded] = round_trip(store, frame)
    assert keys == ["pipe/run-1/block/output_0.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(store.location / keys[0]), frame)
    pd.testing.assert_frame_equal(loaded, frame)


@pytest.mark.parametrize("value", [{"a": [1, 2], "b": {"c": None}}, "text", 3, 2.5, True, [1, "a", None]])
def test_json_able_values_are_stored_as_json(store, value):
    keys, [loaded] = round_trip(store, value)
    assert keys == ["pipe/run-1/block/output_0.json"]
    record = json.loads((store.location / keys[0]).read_text())  # one Prefect result record, all JSON
    assert record["metadata"]["serializer"]["type"] == "json"
    assert json.loads(record["result"]) == value
    assert loaded == value and type(loaded) is type(value)


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1: "a", 2: "b"}, {"nested": (1, [2])}, datetime.date(2024, 5, 16), Model("lasso", [0.5, 1.5])],
    ids=["tuple", "int-keys", "nested-tuple", "date", "object"],
)
def test_values_json_would_change_are_pickled(store, value):
    keys, [loaded] = round_trip(store, value)
    assert keys == ["pipe/run-1/block/output_0.pickle"]
    assert loaded == value and type(loaded) is type(value)


def test_nan_is_pickled_and_stays_nan(store):
    keys, [loaded, in_list] = round_trip(store, math.nan, [1.0, math.nan])
    assert [key.rsplit(".", 1)[1] for key in keys] == ["pickle", "pickle"]
    assert math.isnan(loaded) and in_list[0] == 1.0 and math.isnan(in_list[1])


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({0: [1, 2], 1: [3, 4]}),
        pd.DataFrame({0: [1], "a": [2]}),
        pd.DataFrame({True: [1], False: [2]}),
        pd.DataFrame([[1, 2]], columns=["a", "a"]),
    ],
    ids=["int-names", "mixed-names", "bool-names", "duplicate-names"],
)
def test_dataframes_with_non_string_column_names_round_trip_equal(store, frame):
    _, [loaded] = round_trip(store, frame)
    assert list(loaded.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(loaded, frame)


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame({"a": [[1, 2], [3]]}), pd.DataFrame({"a": [{"x": 1}, {"y": 2}]}), pd.DataFrame({"a": [(1,), (2,)]})],
    ids=["lists", "dicts-with-different-keys", "tuples"],
)
def test_dataframes_holding_containers_round_trip_equal(store, frame):
    _, [loaded] = round_trip(store, frame)
    assert loaded["a"].tolist() == frame["a"].tolist()
    assert [type(v) for v in loaded["a"]] == [type(v) for v in frame["a"]]


def test_serializer_choice():
    assert isinstance(serializer_for(pd.DataFrame({"x": [1]})), ParquetSerializer)
    assert serializer_for({"a": 1}).type == "json"
    assert serializer_for(pd.DataFrame({"x": [[1]]})).type == "pickle"
    assert serializer_for(pd.Series([1, 2])).type == "pickle"


def test_every_output_of_a_block_is_stored_in_order(store):
    frame = pd.DataFrame({"x": [1]})
    keys, loaded = round_trip(store, frame, {"k": 1}, (1, 2))
    assert [key.rsplit("/", 1)[1] for key in keys] == ["output_0.parquet", "output_1.json", "output_2.pickle"]
    assert loaded[0].equals(frame) and loaded[1:] == [{"k": 1}, (1, 2)]


def test_a_block_without_outputs_loads_as_an_empty_list(store):
    store.save("pipe", "run-1", "exporter", [])
    assert store.load("pipe", "exporter") == []


def test_block_uuids_with_slashes_are_stored_under_mages_clean_name(store):
    keys = store.save("pipe", "run-1", "hyperparameter_tuning/XGBoost", [1])
    assert keys == ["pipe/run-1/hyperparameter_tuning_xgboost/output_0.json"]
    assert store.load("pipe", "hyperparameter_tuning/XGBoost") == [1]


def test_latest_is_the_most_recent_save_and_run_ids_select_older_ones(store):
    store.save("pipe", "run-1", "block", ["first"])
    store.save("pipe", "run-2", "block", ["second"])
    assert store.load("pipe", "block") == ["second"]
    assert store.load("pipe", "block", run="latest") == ["second"]
    assert store.load("pipe", "block", run="run-1") == ["first"]
    assert store.run_id("pipe", "block") == "run-2"


def test_the_last_resumable_run_is_the_newest_that_did_not_finish(store):
    runs = store.runs
    assert runs.last_resumable("pipe") is None
    for run_id, state in (
        ("old-failed", "Failed"),
        ("done", "Completed"),
        ("cancelled", "Cancelled"),
        ("new", "Completed"),
    ):
        runs.started("pipe", run_id)
        runs.ended("pipe", run_id, state)
    assert runs.last_resumable("pipe").run_id == "cancelled"  # never a completed run, however recent


def test_a_run_whose_process_died_is_dead_and_resumable(store, tmp_path):
    import json
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store.runs.started("pipe", "crashed")
    active = tmp_path / "results" / "pipe" / "runs" / "active" / "crashed.json"
    record = json.loads(active.read_text())
    active.write_text(json.dumps({**record, "pid": int(gone.stdout)}))  # as if that process had started it
    store.runs.started("pipe", "running")  # this process: alive
    assert [record.run_id for record in store.runs.dead("pipe")] == ["crashed"]
    assert store.runs.last_resumable("pipe").run_id == "crashed"


def test_reuse_trusts_only_outputs_a_completion_record_vouches_for(store, tmp_path):
    from mage_prefect.results.store import DamagedOutput

    keys = store.save("pipe", "run-1", "block", [list(range(1000)), "second"])
    root = tmp_path / "results"
    assert store.saved("pipe", "run-1", ["block"]) == ["block"]
    first = root / keys[0]
    first.write_bytes(first.read_bytes()[:-10])  # truncated
    assert store.saved("pipe", "run-1", ["block"]) == []  # not finished: a resume runs it again
    with pytest.raises(DamagedOutput, match="truncated or changed.*run the block again"):
        store.load("pipe", "block")
    (root / "pipe" / "run-1" / "block" / "completed.json").unlink()  # as when killed between outputs
    assert store.saved("pipe", "run-1", ["block"]) == []


def test_no_temporary_file_is_left_and_a_changed_small_output_fails_its_checksum(store, tmp_path):
    from mage_prefect.results.store import DamagedOutput

    [key] = store.save("pipe", "run-1", "block", [{"a": 1}])
    output = tmp_path / "results" / key
    assert sorted(path.name for path in output.parent.iterdir()) == ["completed.json", "output_0.json"]
    output.write_bytes(output.read_bytes().replace(b"1", b"2"))  # same size, other content
    with pytest.raises(DamagedOutput, match="checksum"):
        store.load("pipe", "block")


def test_a_parquet_output_is_encoded_into_its_file_and_checksummed_up_to_the_limit(store, tmp_path, monkeypatch):
    import hashlib

    from mage_prefect.results import store as stores

    frame = pd.DataFrame({"x": range(1000), "name": [f"n{i}" for i in range(1000)]})
    [key] = store.save("pipe", "run-1", "small", [frame])
    data = (tmp_path / "results" / key).read_bytes()
    [facts] = json.loads((tmp_path / "results" / "pipe" / "run-1" / "small" / "completed.json").read_text())["outputs"]
    assert facts == {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                     "value_sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    monkeypatch.setattr(stores, "CHECKSUM_LIMIT", len(data) - 1)  # as a large output: too large to hash
    [key] = store.save("pipe", "run-1", "large", [frame])
    [facts] = json.loads((tmp_path / "results" / "pipe" / "run-1" / "large" / "completed.json").read_text())["outputs"]
    assert facts == {"key": key, "size": len(data)}
    pd.testing.assert_frame_equal(store.load("pipe", "large")[0], frame)
    assert not [path for path in (tmp_path / "results").rglob("*.tmp")]


def test_latest_is_per_block(store):
    store.save("pipe", "run-1", "a", ["a1"])
    store.save("pipe", "run-2", "b", ["b2"])
    assert (store.load("pipe", "a"), store.load("pipe", "b")) == (["a1"], ["b2"])


def _publish_blocks(location, prefix: str, count: int) -> None:
    store = OutputStore(location)
    for index in range(count):
        store.publish(
            "pipe", f"run-{prefix}", {f"{prefix}{index}": [f"pipe/run-{prefix}/{prefix}{index}/output_0.json"]}
        )


def test_runs_in_other_processes_publishing_at_once_lose_no_latest_pointer(store):
    import multiprocessing

    processes = [
        multiprocessing.get_context("fork").Process(target=_publish_blocks, args=(store.location, prefix, 40))
        for prefix in ("a", "b", "c")
    ]
    [process.start() for process in processes]
    [process.join(60) for process in processes]

    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert {f"{p}{i}": store.run_id("pipe", f"{p}{i}") for p in "abc" for i in range(40)} == {
        f"{p}{i}": f"run-{p}" for p in "abc" for i in range(40)
    }


def test_outputs_survive_a_new_store_object(store):
    store.save("pipe", "run-1", "block", [{"k": [1, 2]}])
    assert OutputStore(store.location).load("pipe", "block") == [{"k": [1, 2]}]


def test_missing_block_raises_output_not_found(store):
    store.save("pipe", "run-1", "block", [1])
    with pytest.raises(OutputNotFound, match="block 'other' of pipeline 'pipe' has no stored output"):
        store.load("pipe", "other")
    with pytest.raises(OutputNotFound):
        store.load("other_pipe", "block")


def test_a_runs_outputs_are_recorded_in_one_manifest_when_published(store):
    keys = store.save("pipe", "run-1", "a", [1, {"k": 2}], publish=False)
    assert not (store.location / "pipe/run-1/outputs.json").exists()
    assert store.load("pipe", "a", run="run-1") == [1, {"k": 2}]  # a run still going: read from its files
    with pytest.raises(OutputNotFound):  # not the latest before the run has ended
        store.load("pipe", "a")
    store.publish("pipe", "run-1", {"a": keys, "group/b": []})
    assert json.loads((store.location / "pipe/run-1/outputs.json").read_text()) == {"a": keys, "group_b": []}
    assert store.load("pipe", "a") == [1, {"k": 2}] and store.load("pipe", "group/b") == []


def test_once_a_run_has_ended_only_its_manifest_counts(store):
    reused = store.save("pipe", "run-0", "b", [0])
    store.save("pipe", "run-1", "half_written", [1], publish=False)  # e.g. its @test failed afterwards
    store.publish("pipe", "run-1", {"a": store.save("pipe", "run-1", "a", [2], publish=False)}, reused={"b": reused})
    with pytest.raises(OutputNotFound):
        store.load("pipe", "half_written", run="run-1")
    assert store.saved("pipe", "run-1", ["a", "b", "half_written"]) == ["a", "b"]
    assert store.run_id("pipe", "a") == "run-1"
    assert store.run_id("pipe", "b") == "run-0"  # reused outputs do not replace a block's latest


def test_a_resumed_run_makes_the_crashed_runs_outputs_the_latest(store):
    reused = store.save("pipe", "crashed", "b", [0], publish=False)  # the crashed run never published
    store.publish("pipe", "resumed", {}, reused={"b": reused})
    assert store.run_id("pipe", "b") == "resumed" and store.load("pipe", "b") == [0]


def test_missing_run_raises_output_not_found(store):
    store.save("pipe", "run-1", "block", [1])
    with pytest.raises(OutputNotFound, match="no stored output for run run-9"):
        store.load("pipe", "block", run="run-9")


def test_prune_keeps_what_latest_reads_and_what_resume_last_would_resume(store, tmp_path):
    from datetime import timedelta

    from mage_prefect.results.housekeeping import prune, retention, stored_runs

    for run_id, block, state in (("run-1", "a", "Completed"), ("run-2", "a", "Completed"), ("run-3", "b", "Failed")):
        store.runs.started("pipe", run_id)
        keys = store.save("pipe", run_id, block, [run_id], publish=False)
        store.publish("pipe", run_id, {block: keys} if state == "Completed" else {})
        store.runs.ended("pipe", run_id, state)
    kept = {run.run_id: run.kept for run in stored_runs(store, "pipe", timedelta(0))}
    assert kept == {"run-1": "", "run-2": "a block's latest", "run-3": "--resume last resumes it (Failed)"}
    leftover = tmp_path / "results" / "pipe" / "run-3" / "b" / ".output_1.json.123.456.tmp"
    leftover.write_bytes(b"half")  # what a killed write leaves
    assert [run.run_id for run in prune(store, "pipe", retention("0h", "--older-than"))] == ["run-1"]
    assert not leftover.exists()
    root = tmp_path / "results" / "pipe"
    assert not (root / "run-1").exists() and (root / "run-2").exists() and (root / "run-3").exists()
    assert [record.run_id for record in store.runs.every("pipe")] == ["run-2", "run-3"]
    assert store.load("pipe", "a") == ["run-2"]
    assert retention("90d", "x") == timedelta(days=90) and retention("2w", "x") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="x is '30 days'"):
        retention("30 days", "x")

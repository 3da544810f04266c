"""Differential: the same pipeline run by Mage's own scheduler (a trigger-mode run) and by
mage-prefect on a real Prefect server gives every block the same outputs.

The seed's own project, mage-ai/mlops, is one of them: `unit_0_setup/example_pipeline` runs through its
multi-project root unchanged, but for its loader's URL, pointed at a local copy of the data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy
import pandas
import pytest

from mage_prefect import run_pipeline
from mage_prefect.api import get_outputs
from tests.compat.conftest import comparable, mage, mage_project
from tests.compat.make_fixtures import make_mlops, point_at_local_titanic, serve_titanic

FEATURES = [  # a standalone project written by Mage: dynamic blocks, reduce_output, outputs, a conditional
    {
        "name": "numbers",
        "type": "data_loader",
        "configuration": {"dynamic": True},
        "content": (
            "@data_loader\ndef numbers(*args, **kwargs):\n"
            "    return [[10, 20, 30], [dict(block_uuid=f'n{i}') for i in range(3)]]\n"
        ),
    },
    {
        "name": "square",
        "type": "transformer",
        "upstream_blocks": ["numbers"],
        "configuration": {"reduce_output": True},
        "content": "@transformer\ndef square(value, *args, **kwargs):\n    return value * value * kwargs['factor']\n",
    },
    {
        "name": "total",
        "type": "custom",
        "upstream_blocks": ["square"],
        "content": (
            "@custom\ndef total(squares, *args, **kwargs):\n"
            "    return sum(squares), len(squares), kwargs['ds'] is not None\n"
        ),
    },
    {
        "name": "report",
        "type": "data_exporter",
        "upstream_blocks": ["total"],
        "content": (
            "import pandas as pd\n\n@data_exporter\ndef report(outputs, *args, **kwargs):\n"  # 3 outputs: one argument
            "    total, count, dated = outputs\n"
            "    return pd.DataFrame({'total': [total], 'count': [count], 'env': [kwargs['env']]})\n"
        ),
    },
]


@pytest.fixture(scope="module")
def titanic_url(tmp_path_factory):
    with serve_titanic(tmp_path_factory.mktemp("titanic")) as url:
        yield url


def mage_outputs(root: Path, pipeline: str, out: Path, **options) -> dict[str, list]:
    """Every block run's outputs in a trigger-mode run of real Mage."""
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    answer = mage("run", str(root), pipeline, "--out", str(out), *arguments, cwd=root.parent)
    assert answer["status"] == "completed", answer.get("error")
    return {
        name: [_read(out / run["dir"], entry) for entry in run.get("formats", [])]
        for name, run in answer["blocks"].items()
        if run["status"] == "completed" and run.get("formats")
    }


def _read(folder: Path, entry: dict):
    files = {Path(name).suffix: folder / name for name in entry["files"]}
    if ".parquet" in files:
        return pandas.read_parquet(files[".parquet"])
    if ".json" in files:
        return json.loads(files[".json"].read_text())
    if ".npy" in files:
        return numpy.load(files[".npy"])
    raise AssertionError(f"no neutral copy of {entry}")


def assert_same(ours, theirs, where: str) -> None:
    if isinstance(theirs, pandas.DataFrame):
        ours = ours if isinstance(ours, pandas.DataFrame) else ours.to_frame()
        pandas.testing.assert_frame_equal(
            comparable(ours).reset_index(drop=True),
            comparable(theirs).reset_index(drop=True),
            check_dtype=False,
            obj=where,
        )
    else:
        assert json.loads(json.dumps(ours, default=str)) == theirs, where


def ours_outputs(root: Path, pipeline: str, names, **variables) -> dict[str, list]:
    """Every named block run's outputs in a run of mage-prefect."""
    run = run_pipeline(root, pipeline, variables=variables)
    assert run.ok, run.state.message
    return {name: get_outputs(root, pipeline, name, run=run.flow_run_id) for name in names}


def compare(ours: dict[str, list], theirs: dict[str, list]) -> None:
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    for name, outputs in theirs.items():
        assert len(ours[name]) == len(outputs), name
        for index, (mine, mages) in enumerate(zip(ours[name], outputs)):
            assert_same(mine, mages, f"{name} output_{index}")


@pytest.fixture()
def mlops(tmp_path, titanic_url):
    return point_at_local_titanic(make_mlops(tmp_path), titanic_url)  # the only change to the project


def test_the_seeds_example_pipeline_runs_through_its_platform_root_as_in_mage(prefect_server, mlops, tmp_path):
    theirs = mage_outputs(mlops, "unit_0_setup/example_pipeline", tmp_path / "mage")
    exported_by_mage = (mlops.parent / "titanic_clean.csv").read_text()
    (mlops.parent / "titanic_clean.csv").unlink()

    ours = ours_outputs(mlops, "unit_0_setup/example_pipeline", theirs)

    compare(ours, theirs)
    assert list(theirs) == ["load_titanic", "fill_in_missing_values"]  # the exporter returns nothing
    assert (mlops.parent / "titanic_clean.csv").read_text() == exported_by_mage  # FileIO wrote the same file


def test_a_three_output_block_with_tests_retries_and_variables_matches_mage(prefect_server, mlops, tmp_path):
    theirs = mage_outputs(mlops, "data_preparation", tmp_path / "mage", variables=json.dumps({"max_distance": 5}))
    ours = ours_outputs(mlops, "data_preparation", theirs, max_distance=5)
    compare(ours, theirs)
    assert len(theirs["prepare"]) == 3


def test_dynamic_children_reduced_outputs_and_kwargs_match_mage(prefect_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ENV", "prod")  # Mage's trigger runs are prod; mage-prefect's API runs take ENV (README)
    root = mage_project(tmp_path / "features", "fan_out", FEATURES, variables={"factor": 3})
    theirs = mage_outputs(root, "fan_out", tmp_path / "mage")
    ours = ours_outputs(root, "fan_out", theirs)
    compare(ours, theirs)
    assert {name for name in theirs if name.startswith("square:")} == {"square:n0", "square:n1", "square:n2"}


RUNTIME_CHECKS = Path(__file__).parents[1] / "e2e" / "projects" / "runtime_checks"


@pytest.fixture(scope="module")
def runtime_checks(tmp_path_factory):
    return Path(shutil.copytree(RUNTIME_CHECKS, tmp_path_factory.mktemp("copy") / RUNTIME_CHECKS.name))


@pytest.mark.parametrize("pipeline", ["dynamic", "replicas", "flaky", "gated"])
def test_the_runtime_fixture_pipelines_match_mage(prefect_server, runtime_checks, pipeline, tmp_path):
    """Children of dynamic children, reduce_output, replicas, retries and conditionals. (`parallel`
    meets its two branches at a thread barrier: it runs only where blocks are threads.)"""
    theirs = mage_outputs(runtime_checks, pipeline, tmp_path / "mage")
    ours = ours_outputs(runtime_checks, pipeline, theirs)
    compare(ours, theirs)

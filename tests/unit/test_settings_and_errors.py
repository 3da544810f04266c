"""The typed `mage_prefect:` settings (environment overrides, unknown keys), the one definition of
the flow's parameters, and the CLI's line between a user's mistake and a bug of ours."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from mage_prefect.cli import BUG_EXIT_CODE, app
from mage_prefect.project.parameters import RESERVED_NAMES, RunOptions, flow_parameters, parameters_of_call
from mage_prefect.project.validate import check_project, load_project

from .conftest import STANDALONE


def _with_settings(tmp_path, section: str):
    root = tmp_path / STANDALONE.name
    shutil.copytree(STANDALONE, root)
    metadata = root / "metadata.yaml"
    metadata.write_text(metadata.read_text().split("mage_prefect:")[0] + section)
    return root


def test_settings_are_typed_with_defaults_and_environment_overrides(tmp_path, monkeypatch):
    root = _with_settings(tmp_path, "mage_prefect:\n  sensor_interval: 5\n  mlflow: true\n")
    settings = load_project(root).settings
    assert (settings.sensor_interval, settings.max_dynamic_children, settings.results) == (5, 1000, None)
    assert settings.tracking is not None and settings.tracking.autolog is True  # `mlflow: true`: every default
    monkeypatch.setenv("MAGE_PREFECT_SENSOR_INTERVAL", "0.5")
    monkeypatch.setenv("MAGE_PREFECT_MAX_DYNAMIC_CHILDREN", "7")
    monkeypatch.setenv("MAGE_PREFECT_RESULTS", "s3://bucket/prefix")
    settings = load_project(root).settings
    assert (settings.sensor_interval, settings.max_dynamic_children, settings.results) == (
        0.5,
        7,
        "s3://bucket/prefix",
    )


def test_the_task_runner_is_a_name_or_a_mapping_and_the_environment_or_a_run_overrides_it(tmp_path, monkeypatch):
    from mage_prefect.api import with_task_runner

    root = _with_settings(tmp_path, "mage_prefect:\n  task_runner: {type: dask, address: 'tcp://h:8786'}\n")
    project = load_project(root)
    assert (project.settings.runner.type, project.settings.runner.address) == ("dask", "tcp://h:8786")
    assert with_task_runner(project, "dask").settings.runner.address == "tcp://h:8786"  # same type: kept
    assert with_task_runner(project, "ray").settings.runner.address is None
    monkeypatch.setenv("MAGE_PREFECT_TASK_RUNNER", "{type: ray, workers: 3}")
    runner = load_project(root).settings.runner
    assert (runner.type, runner.workers, runner.address) == ("ray", 3, None)
    monkeypatch.setenv("MAGE_PREFECT_TASK_RUNNER", "ray")
    assert load_project(_with_settings(tmp_path / "b", "mage_prefect: {}\n")).settings.runner.type == "ray"
    monkeypatch.setenv("MAGE_PREFECT_TASK_RUNNER", "spark")
    _, diagnostics = check_project(root)
    [problem] = [d for d in diagnostics if d.severity == "error"]
    assert problem.key_path == "mage_prefect.task_runner" and "MAGE_PREFECT_TASK_RUNNER='spark'" in problem.message


def test_a_task_runner_whose_extra_is_missing_says_which_to_install(monkeypatch):
    import importlib

    import pytest

    from mage_prefect.project.contract import TaskRunnerSettings
    from mage_prefect.project.errors import InvalidRequest
    from mage_prefect.task_runners import task_runner

    def not_installed(name: str):
        raise ImportError(f"No module named '{name}'")

    monkeypatch.setattr(importlib, "import_module", not_installed)
    with pytest.raises(InvalidRequest, match=r"needs prefect-ray .*pip install 'mage-prefect\[ray\]'"):
        task_runner(TaskRunnerSettings(type="ray"), None)
    assert task_runner(TaskRunnerSettings(), 4)._max_workers == 4  # threads: the pipeline's block_run_limit


def test_a_bad_environment_override_is_a_diagnostic_naming_the_variable(tmp_path, monkeypatch):
    root = _with_settings(tmp_path, "mage_prefect: {}\n")
    monkeypatch.setenv("MAGE_PREFECT_MAX_DYNAMIC_CHILDREN", "many")
    _, diagnostics = check_project(root)
    [problem] = [d for d in diagnostics if d.severity == "error"]
    assert problem.key_path == "mage_prefect.max_dynamic_children"
    assert "MAGE_PREFECT_MAX_DYNAMIC_CHILDREN='many'" in problem.message
    assert problem.hint == "fix or unset MAGE_PREFECT_MAX_DYNAMIC_CHILDREN"


def test_a_misspelt_setting_is_a_warning_with_did_you_mean(tmp_path):
    root = _with_settings(tmp_path, "mage_prefect:\n  mlfow: true\n  deployments:\n    work_pol: x\n")
    _, diagnostics = check_project(root)
    warnings = {d.key_path: (d.message, d.hint) for d in diagnostics if d.severity == "warning"}
    assert warnings["mage_prefect.mlfow"] == ("unknown key 'mlfow' (mage-prefect ignores it)", "did you mean 'mlflow'?")
    assert warnings["mage_prefect.deployments.work_pol"][1] == "did you mean 'work_pool'?"


def test_flow_parameters_split_declared_variables_from_runtime_variables():
    pipeline = load_project(STANDALONE).pipeline("etl")
    declared = next(iter(pipeline.variables))
    parameters = flow_parameters(pipeline, {declared: 3, "other": 4}, RunOptions(runtime_variables={"x": 1}))
    assert parameters[declared] == 3 and parameters["runtime_variables"] == {"other": 4, "x": 1}
    variables, options = parameters_of_call(parameters)
    assert variables == {declared: 3} and options.runtime_variables == {"other": 4, "x": 1}
    assert set(RESERVED_NAMES) >= {"execution_date", "runtime_variables", "skip_sensors", "allow_blocks_to_fail"}


def test_a_user_mistake_is_one_line_and_exit_1():
    result = CliRunner().invoke(app, ["output", str(STANDALONE), "etl", "no_such_block"])
    assert result.exit_code == 1
    assert "error: no block 'no_such_block'" in result.output and "Traceback" not in result.output


def test_an_internal_error_is_a_short_traceback_and_says_it_is_a_bug(monkeypatch):
    import mage_prefect.api

    def broken(*args, **kwargs):
        return {}["x"]  # an internal KeyError: not a user's mistake

    monkeypatch.setattr(mage_prefect.api, "get_output", broken)
    result = CliRunner().invoke(app, ["output", str(STANDALONE), "etl", "load_numbers"])
    assert result.exit_code == BUG_EXIT_CODE
    assert "Traceback" in result.output and "KeyError: 'x'" in result.output
    assert "this is a bug in mage-prefect" in result.output

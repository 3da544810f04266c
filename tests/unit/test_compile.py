"""Triggers → prefect.yaml: golden files, determinism, `--check`, and trigger diagnostics."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from mage_prefect.cli import app
from mage_prefect.deployments import compile_project, emit_trigger
from mage_prefect.project.validate import check_project, load_project

from .conftest import line_of

TESTS = Path(__file__).parents[1]
SCHEDULED = TESTS / "e2e" / "projects" / "scheduled"
GOLDEN = TESTS / "fixtures" / "golden" / "scheduled"
BAD = TESTS / "fixtures" / "projects" / "bad_triggers"
REPO = TESTS.parent


def _compile(project: Path, out: Path):
    return compile_project(load_project(project), out)


def test_compiled_output_matches_the_golden_files(monkeypatch):
    monkeypatch.chdir(REPO)
    compiled = _compile(SCHEDULED, GOLDEN)

    assert compiled.files == {name: (GOLDEN / name).read_text() for name in ("prefect.yaml", "flows.py")}
    assert _compile(SCHEDULED, GOLDEN).files == compiled.files  # deterministic


def test_every_trigger_form_is_mapped():
    deployments = {d["name"]: d for d in yaml.safe_load((GOLDEN / "prefect.yaml").read_text())["deployments"]}

    assert deployments["every_minute"]["schedules"] == [{"cron": "* * * * *", "timezone": "UTC", "active": True}]
    assert deployments["nightly"]["schedules"] == [{"cron": "0 0 * * *", "timezone": "UTC", "active": False}]
    assert deployments["nightly"]["parameters"] == {"greeting": "good night"}
    assert deployments["new_year"]["schedules"][0]["rrule"] == "DTSTART:20310101T000000\nRRULE:FREQ=DAILY;COUNT=1"
    assert deployments["on_demand"]["schedules"] == [] and deployments["on_demand"]["triggers"] == []
    assert deployments["on_demand"]["parameters"] == {
        "greeting": "hi",
        "runtime_variables": {"audience": "api callers"},
    }
    event = deployments["on_event"]["triggers"][0]
    assert event["expect"] == ["mage_prefect.trigger"]
    assert event["match"] == {"prefect.resource.id": "mage_prefect.pipeline.hello", "mage_prefect.trigger": "on_event"}
    assert event["parameters"] == {  # the trigger's variables, then the event's payload when it arrives
        "greeting": "hello from the trigger",
        "runtime_variables": {
            "audience": "event listeners",
            "event": {
                "__prefect_kind": "json",
                "value": {"__prefect_kind": "jinja", "template": "{{ event.payload | tojson }}"},
            },
        },
    }
    assert deployments["guarded"]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert deployments["guarded"]["parameters"] == {"allow_blocks_to_fail": True}  # a trigger setting
    assert deployments["guarded"]["entrypoint"] == "flows.py:hello__timeout_600"
    assert deployments["api"]["entrypoint"] == "flows.py:no_triggers"  # a pipeline without triggers
    assert {d["work_pool"]["name"] for d in deployments.values()} == {"mage-prefect-tests"}
    assert (
        "hello__timeout_600 = entrypoint_flow(PROJECT, 'hello', __name__, 'hello__timeout_600', timeout_seconds=600)"
        in (GOLDEN / "flows.py").read_text()
    )


def test_unmapped_settings_are_warnings():
    compiled = _compile(SCHEDULED, GOLDEN)
    assert [(d.severity, d.key_path) for d in compiled.diagnostics] == [("warning", "settings.timeout_status")]


def test_entrypoint_module_loads_as_prefect_loads_it(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(f"{GOLDEN / 'flows.py'}:hello__timeout_600")
    assert flow.name == "hello" and flow.timeout_seconds == 600
    assert flow.fn.__qualname__ == "hello__timeout_600"


def test_check_reports_a_stale_output(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    up_to_date = runner.invoke(app, ["compile", str(SCHEDULED), "--out", str(GOLDEN), "--check"])
    assert up_to_date.exit_code == 0, up_to_date.output

    project = Path(shutil.copytree(SCHEDULED, tmp_path / "scheduled"))
    out = tmp_path / "deployments"
    assert runner.invoke(app, ["compile", str(project), "--out", str(out)]).exit_code == 0
    triggers = project / "pipelines" / "hello" / "triggers.yaml"
    triggers.write_text(triggers.read_text().replace("greeting: hi", "greeting: hello there"))
    stale = runner.invoke(app, ["compile", str(project), "--out", str(out), "--check"])
    assert stale.exit_code == 1
    assert "-    greeting: hi" in stale.output and "+    greeting: hello there" in stale.output


def test_bad_triggers_are_diagnostics_with_lines():
    _, diagnostics = check_project(BAD)
    file = BAD / "pipelines" / "p" / "triggers.yaml"
    found = {(d.line, d.message.split(" (")[0]) for d in diagnostics if d.file == file}
    assert found == {
        (line_of(file, "stauts: active"), "trigger 'typo_key': unknown key 'stauts'"),
        (line_of(file, "'61 * * * *'"), "invalid cron expression '61 * * * *'"),
        (
            line_of(file, "schedule_type: webhook"),
            "trigger 'bad_type': 'schedule_type' is 'webhook'; expected 'time', 'api' or 'event'",
        ),
        (
            line_of(file, "'@always_on'"),
            "@always_on triggers are not supported; mage-prefect does not support this yet",
        ),
        (line_of(file, "- name: missing_interval"), "trigger 'missing_interval': 'schedule_interval' is missing"),
    }
    assert next(d for d in diagnostics if "stauts" in d.message).hint == "did you mean 'status'?"


def test_compile_cli_refuses_a_broken_project_without_traceback(tmp_path):
    result = CliRunner().invoke(app, ["compile", str(BAD), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "unknown key 'stauts' (Mage refuses it)" in result.output
    assert not (tmp_path / "out").exists()


def test_committed_demo_deployments_are_up_to_date(monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["compile", "pipelines/mlops_demo", "--out", "deployments", "--check"])
    assert result.exit_code == 0, result.output


def test_initial_runs_are_for_active_time_triggers_that_have_started(tmp_path):
    project = tmp_path / "scheduled"
    shutil.copytree(SCHEDULED, project)
    initial = {"create_initial_pipeline_run": True}
    triggers = project / "pipelines" / "hello" / "triggers.yaml"
    config = yaml.safe_load(triggers.read_text())
    for trigger in config["triggers"]:
        trigger["settings"] = {**(trigger.get("settings") or {}), **initial}
    triggers.write_text(yaml.safe_dump(config))

    compiled = compile_project(load_project(project), tmp_path / "out")

    # not nightly (inactive), not_yet (starts in 2099), new_year (@once), nor api / event triggers
    assert compiled.initial_runs == {("hello", "every_minute"): "* * * * *"}


def test_compiled_flows_py_parses_for_any_pipeline_name_mage_allows(tmp_path):
    import ast

    root = tmp_path / "names"
    names = ["café_ü", "a-b", "a_b", "x.y", "class", "9lives", "ünïcødé-pipe.line"]
    (root / "custom").mkdir(parents=True)
    (root / "custom" / "only.py").write_text("@custom\ndef only(*args, **kwargs):\n    return 1\n")
    for name in names:
        folder = root / "pipelines" / name
        folder.mkdir(parents=True)
        (folder / "metadata.yaml").write_text("blocks:\n- uuid: only\n  type: custom\n")
        (folder / "triggers.yaml").write_text(
            "triggers:\n- name: capped\n  schedule_type: api\n  schedule_interval: null\n"
            "  start_time: null\n  settings: {timeout: 90}\n"
        )
    compiled = compile_project(load_project(root), tmp_path / "out")

    module = ast.parse(compiled.files["flows.py"])  # parses
    attributes = [
        node.targets[0].id for node in module.body if isinstance(node, ast.Assign) and node.targets[0].id != "PROJECT"
    ]
    assert len(attributes) == len(set(attributes)) == len(names)  # a-b and a_b do not share one
    entrypoints = {d["entrypoint"].split(":")[1] for d in yaml.safe_load(compiled.files["prefect.yaml"])["deployments"]}
    assert entrypoints == set(attributes)
    assert all(attribute.isidentifier() and attribute.isascii() for attribute in attributes)


def test_emit_sends_what_a_trigger_listens_for_and_refuses_patterns():
    import pytest

    from mage_prefect.deployments import EVENT, listened_event
    from mage_prefect.project.contract import EventTriggerSettings
    from mage_prefect.project.errors import InvalidRequest

    assert listened_event("p", "t", {}) == (
        [EVENT],
        {"prefect.resource.id": "mage_prefect.pipeline.p", "mage_prefect.trigger": "t"},
    )
    model = EventTriggerSettings(expect=["mage_prefect.model.promoted"], match={"prefect.resource.id": "m.champ"})
    assert listened_event("p", "t", {"p/t": model}) == (
        ["mage_prefect.model.promoted"],
        {"prefect.resource.id": "m.champ"},
    )
    for pattern in (
        EventTriggerSettings(expect=["x.*"], match={"prefect.resource.id": "a"}),
        EventTriggerSettings(expect=["x"], match={"prefect.resource.id": "a.*"}),
    ):
        with pytest.raises(InvalidRequest, match="emit such an event"):
            emit_trigger("p", "t", custom={"p/t": pattern})


def test_mage_executors_are_reported_with_what_maps(tmp_path):
    """A pipeline's container executor maps to a work pool of that type; a block's has no per-task
    equivalent; PySpark is not supported; local_python is the default and says nothing."""
    project = tmp_path / "scheduled"
    shutil.copytree(SCHEDULED, project)
    for name in ("other", "local"):
        (project / "custom" / f"{name}.py").write_text(f"@custom\ndef {name}(*args, **kwargs):\n    return 1\n")
    (project / "pipelines" / "no_triggers" / "metadata.yaml").write_text(
        "executor_type: k8s\n"
        "blocks:\n"
        "- {uuid: greet, type: custom, upstream_blocks: [], executor_type: ecs, executor_config: {cpu: 2}}\n"
        "- {uuid: other, type: custom, upstream_blocks: [], executor_type: pyspark}\n"
        "- {uuid: local, type: custom, upstream_blocks: [], executor_type: local_python}\n"
    )

    compiled = compile_project(load_project(project), tmp_path / "out")

    found = {d.key_path: d for d in compiled.diagnostics if "executor_type" in d.key_path}
    assert sorted(found) == ["blocks[0].executor_type", "blocks[1].executor_type", "executor_type"]
    assert all(d.severity == "warning" for d in found.values())
    assert "kubernetes work pool" in found["executor_type"].hint and found["executor_type"].line == 1
    block = found["blocks[0].executor_type"]
    assert "block 'greet'" in block.message and "ecs work pool" in block.hint and block.line == 3
    assert "PySpark executor is not supported" in found["blocks[1].executor_type"].hint

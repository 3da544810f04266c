"""Mage's richer block semantics, run end to end on a real Prefect server."""

from __future__ import annotations

import pytest

from mage_prefect import get_output, get_outputs, run_pipeline
from mage_prefect.results.store import OutputStore

from .conftest import HERE, copy_project, mage_prefect, task_runs


@pytest.fixture()
def own_checks_project(tmp_path_factory):
    """A private copy, for tests that add pipelines to the project."""
    return copy_project(HERE / "projects" / "runtime_checks", tmp_path_factory)


pytestmark = pytest.mark.e2e


def test_dynamic_children_fan_out_and_reduce(prefect_server, checks_project):
    run = run_pipeline(checks_project, "dynamic")

    assert run.ok, run.state.message
    assert get_output(checks_project, "dynamic", "total") == 36  # 1 + 8 + 27
    names = [
        "numbers",
        "cube:one",
        "cube:two",
        "cube:three",
        "total",
        "square:one",
        "square:two",
        "square:three",
        "describe:0",
        "describe:1",
        "describe:2",
    ]
    assert sorted(run.blocks) == sorted(names)
    # metadata is merged into kwargs (block_uuid overwritten, as in Mage), with dynamic_block_index
    assert get_output(checks_project, "dynamic", "square:two") == {"square": 4, "index": 1, "name": "two"}
    assert get_output(checks_project, "dynamic", "describe:2") == "three=9"  # children of children follow
    assert sorted(task_runs(run.flow_run_id, expected=len(names))) == sorted(names)


def test_dynamic_fan_out_limit_is_a_clear_error(prefect_server, checks_project, monkeypatch):
    monkeypatch.setenv("MAGE_PREFECT_MAX_DYNAMIC_CHILDREN", "2")

    run = run_pipeline(checks_project, "dynamic")

    assert run.state.is_failed()
    assert "would fan out into 3 dynamic children, above the limit of 2" in run.state.message


def test_false_condition_skips_block_and_descendants_but_not_siblings(prefect_server, checks_project):
    run = run_pipeline(checks_project, "gated")

    assert run.ok and run.state.is_completed(), run.state.message
    assert run.blocks["closed_gate"]["state"] == "Skipped"
    assert "condition" in run.blocks["closed_gate"]["message"]
    assert run.blocks["after_boom"]["state"] == "Skipped"
    assert run.blocks["open_gate"]["state"] == "Completed"
    assert get_output(checks_project, "gated", "open_gate") == 3
    recorded = task_runs(run.flow_run_id, expected=4)
    assert recorded["closed_gate"].state.name == "Skipped" and recorded["after_boom"].state.name == "Skipped"


def test_callbacks_fire_on_success_and_only_failure_on_failure(prefect_server, checks_project):
    log = checks_project / "callback_log"

    run = run_pipeline(checks_project, "callbacks_check")

    assert run.blocks["good"]["state"] == "Completed" and run.blocks["bad"]["state"] == "Failed"
    assert (log / "good.success").read_text() == "{'status': 'fine'}"
    assert (log / "good.legacy_success").read_text() == "good"
    assert (log / "bad.failure").read_text() == "ValueError"  # after its last retry only
    assert (log / "bad.failure_template").read_text() == "None"  # a positional parameter gets no output
    assert not (log / "bad.success").exists() and not (log / "good.failure").exists()


def test_sensor_polls_until_true_and_stores_no_output(prefect_server, checks_project, monkeypatch):
    monkeypatch.setenv("MAGE_PREFECT_SENSOR_INTERVAL", "0.1")

    run = run_pipeline(checks_project, "sensing")

    assert run.ok, run.state.message
    assert get_outputs(checks_project, "sensing", "wait_for_third_call") == []
    assert get_output(checks_project, "sensing", "after_sensor") == {"sensor_output": []}


def test_sensor_timeout_and_skip_sensors(prefect_server, own_checks_project, monkeypatch):
    checks_project = own_checks_project
    monkeypatch.setenv("MAGE_PREFECT_SENSOR_INTERVAL", "0.4")
    sensor = checks_project / "sensors" / "never_true.py"
    sensor.write_text("@sensor\ndef check(*args, **kwargs):\n    return False\n")
    pipeline = checks_project / "pipelines" / "never_sensing"
    pipeline.mkdir()
    (pipeline / "metadata.yaml").write_text(
        "blocks:\n- {uuid: never_true, type: sensor, upstream_blocks: [], timeout: 1}\n"
    )

    timed_out = run_pipeline(checks_project, "never_sensing")
    skipped = run_pipeline(checks_project, "never_sensing", skip_sensors=True)

    assert "still false after its timeout of 1 s" in timed_out.blocks["never_true"]["message"]
    assert skipped.ok


def test_replicated_block_runs_the_replicated_file_with_its_own_upstreams(prefect_server, checks_project):
    run = run_pipeline(checks_project, "replicas")

    assert run.ok, run.state.message
    assert "add_one_again:add_one" in run.blocks  # Mage's run name for a replica
    assert get_output(checks_project, "replicas", "add_one_again") == [3, 4, 5]


def test_global_data_product_runs_its_pipeline_once_then_reuses_fresh_outputs(prefect_server, checks_project):
    store = OutputStore(checks_project / ".mage_prefect" / "results")

    first = run_pipeline(checks_project, "uses_product")
    made = store.run_id("product_source", "make_numbers")
    second = run_pipeline(checks_project, "uses_product")

    assert first.ok and second.ok, (first.state.message, second.state.message)
    assert store.run_id("product_source", "make_numbers") == made  # fresh: not run again
    one, two = (get_output(checks_project, "uses_product", "use_product", run=r.flow_run_id) for r in (first, second))
    assert one["sum"] == 30 and one == two


def test_mage_ai_helpers_block_code_calls_work_without_mage_ai(prefect_server, checks_project, monkeypatch):
    monkeypatch.setenv("SHIM_TEST_SECRET", "s3cr3t")

    run = run_pipeline(checks_project, "shim_check")

    assert run.ok, run.state.message
    assert get_output(checks_project, "shim_check", "use_mage_helpers") == {
        "from_store": 2,  # start's output_1 in this run
        "global": 7,  # written to the pipeline's metadata.yaml, then read back
        "secret": "s3cr3t",
        "types": {"n": "number", "price": "number_with_decimals", "ok": "true_or_false", "mail": "email"},
        "triggered": "completed",
        "replicas_done": True,
    }
    assert "last_seen: 7" in (checks_project / "pipelines" / "shim_check" / "metadata.yaml").read_text()


def test_unknown_mage_ai_import_names_the_module_and_block(own_checks_project):
    checks_project = own_checks_project
    (checks_project / "custom" / "uses_unknown.py").write_text(
        "from mage_ai.io.bigquery import BigQuery\n\n@custom\ndef f(*args, **kwargs):\n    return 1\n"
    )
    pipeline = checks_project / "pipelines" / "unknown_import"
    pipeline.mkdir()
    (pipeline / "metadata.yaml").write_text("blocks:\n- {uuid: uses_unknown, type: custom, upstream_blocks: []}\n")

    from mage_prefect.project.validate import check_project

    _, diagnostics = check_project(checks_project, "unknown_import")
    assert [(d.line, d.severity) for d in diagnostics] == [(1, "error")]
    assert "imports 'mage_ai.io.bigquery'" in diagnostics[0].message


def test_resume_runs_only_what_failed_and_reuses_the_stored_outputs(prefect_server, own_checks_project):
    project = own_checks_project
    shaky = project / "transformers" / "shaky.py"
    shaky.write_text("@transformer\ndef shaky(values, *args, **kwargs):\n    raise RuntimeError('not yet')\n")
    pipeline = project / "pipelines" / "resumable"
    pipeline.mkdir()
    (pipeline / "metadata.yaml").write_text(
        "blocks:\n- {uuid: start, type: data_loader, upstream_blocks: []}\n"
        "- {uuid: sibling, type: transformer, upstream_blocks: [start]}\n"
        "- {uuid: shaky, type: transformer, upstream_blocks: [start]}\n"
        "- {uuid: total, type: transformer, upstream_blocks: [shaky]}\n"
    )
    failed = run_pipeline(project, "resumable", allow_blocks_to_fail=True)
    assert failed.blocks["shaky"]["state"] == "Failed" and failed.blocks["sibling"]["state"] == "Completed"

    shaky.write_text("@transformer\ndef shaky(values, *args, **kwargs):\n    return [v * 10 for v in values]\n")
    resumed = run_pipeline(project, "resumable", resume="last")  # the failed run: the latest that stored outputs

    assert resumed.ok, resumed.state.message
    assert {name: outcome["state"] for name, outcome in resumed.blocks.items()} == {
        "start": "Cached",
        "sibling": "Cached",
        "shaky": "Completed",
        "total": "Completed",
    }
    assert get_output(project, "resumable", "total") == 60
    # the resumed run is complete: its manifest points at the outputs it reused
    assert get_output(project, "resumable", "sibling", run=resumed.flow_run_id) == [2, 3, 4]


def test_a_single_block_runs_on_its_upstreams_stored_outputs(prefect_server, own_checks_project):
    project = own_checks_project
    first = run_pipeline(project, "fails", allow_blocks_to_fail=True)
    assert first.blocks["sibling"]["state"] == "Completed"
    (project / "transformers" / "sibling.py").write_text(
        "@transformer\ndef add_two(values, *args, **kwargs):\n    return [v + 2 for v in values]\n"
    )

    result = mage_prefect("run", project, "fails", "--block", "sibling")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cached     start" in result.stdout and "Completed  sibling" in result.stdout
    assert "boom" not in result.stdout.split("Pipeline 'fails'")[-1]  # not part of the run
    assert get_output(project, "fails", "sibling") == [3, 4, 5]
    store = OutputStore(project / ".mage_prefect" / "results")
    assert store.run_id("fails", "start") == first.flow_run_id  # reused outputs do not become the latest

    unknown = mage_prefect("run", project, "fails", "--from", "sibblings")
    assert unknown.returncode == 1 and "no block 'sibblings'" in unknown.stderr

"""redaction.py: values read from secret sources are masked in the run's logs, in block error
messages and in the outputs artifact's previews; the block's own stored output is left as returned."""

from __future__ import annotations

import logging

from mage_prefect.redaction import MASK, RedactingFilter, redact, remember
from mage_prefect.runtime.compat.secrets import get_secret_value


def test_a_secret_read_through_the_shim_is_masked_in_log_records_and_tracebacks(monkeypatch):
    monkeypatch.setenv("CANARY_TOKEN", "canary-5f3a9c")
    assert get_secret_value("CANARY_TOKEN") == "canary-5f3a9c"  # block code gets the real value
    record = logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, "token %s", ("canary-5f3a9c",), None)
    try:
        raise RuntimeError("auth failed for canary-5f3a9c")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"token {MASK}" and "canary-5f3a9c" not in record.exc_text
    assert f"auth failed for {MASK}" in record.exc_text


def test_env_var_in_templates_is_a_secret_source_but_short_values_stay(monkeypatch):
    from mage_prefect.project.templating import render

    monkeypatch.setenv("DB_PASSWORD", "hunter2-long")
    monkeypatch.setenv("STAGE", "dev")
    assert render("{{ env_var('DB_PASSWORD') }}/{{ env_var('STAGE') }}") == "hunter2-long/dev"
    assert redact("password=hunter2-long stage=dev") == f"password={MASK} stage=dev"  # 'dev' would mask words


def test_a_failing_block_does_not_quote_a_secret(tmp_path, run_context, monkeypatch):
    import pytest

    from mage_prefect.project.models import Block, SourceRef
    from mage_prefect.runtime.execute import BlockFailed, execute_block

    remember("s3cr3t-value-42")
    code = tmp_path / "boom.py"
    code.write_text("@custom\ndef boom(*args, **kwargs):\n    raise ValueError('login with s3cr3t-value-42 refused')\n")
    block = Block(uuid="boom", type="custom", file=code, source=SourceRef(file=tmp_path / "metadata.yaml"))
    with pytest.raises(BlockFailed) as failure:
        execute_block(block, [], run_context)
    assert "s3cr3t-value-42" not in str(failure.value) and f"login with {MASK} refused" in str(failure.value)


def test_a_variable_holding_a_secrets_value_is_refused_before_a_flow_run(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from mage_prefect.cli import app

    from .conftest import STANDALONE

    secret = str(tmp_path / "read-by-env_var")
    monkeypatch.setenv("STANDALONE_RESULTS_DIR", secret)  # the project's metadata.yaml reads it with env_var
    result = CliRunner().invoke(app, ["run", str(STANDALONE), "etl", "--var", f"leak={secret}"])
    assert result.exit_code == 1
    assert "variable 'leak' holds the value of a secret" in result.output and "Prefect UI" in result.output


def _project_with_deployment_secrets(tmp_path):
    root = tmp_path / "p"
    (root / "pipelines" / "etl").mkdir(parents=True)
    (root / "custom").mkdir()
    (root / "custom" / "a.py").write_text("@custom\ndef a(*args, **kwargs):\n    return 1\n")
    (root / "pipelines" / "etl" / "metadata.yaml").write_text("blocks:\n- {uuid: a, type: custom}\n")
    (root / "metadata.yaml").write_text(
        "project_uuid: p\nmage_prefect:\n  deployments:\n    job_variables:\n      env:\n"
        "        API_TOKEN: \"{{ env_var('CANARY_TOKEN') }}\"\n"
        "        AUTH: Bearer {{ env_var('CANARY_TOKEN', 'x') }}\n"
        "        PLAIN: hello\n      working_dir: \"{{ env_var('WORKDIR') }}\"\n"
    )
    return root


def test_compile_writes_references_not_the_secret_and_its_output_does_not_depend_on_it(tmp_path, monkeypatch):
    import yaml

    from mage_prefect.deployments import SET_ENVIRONMENT, compile_project
    from mage_prefect.project.validate import check_project

    root = _project_with_deployment_secrets(tmp_path)
    outputs = []
    for value in ("canary-9b1e77", None):
        if value:
            monkeypatch.setenv("CANARY_TOKEN", value)
        else:
            monkeypatch.delenv("CANARY_TOKEN")
        project, diagnostics = check_project(root)
        outputs.append(compile_project(project, tmp_path / "out").files)
    assert outputs[0] == outputs[1] and "canary-9b1e77" not in str(outputs[0])
    spec = yaml.safe_load(outputs[0]["prefect.yaml"])
    # Mage's text, which `prefect deploy` leaves alone: the flow-run process renders it
    run_time_env = {"API_TOKEN": '{{ env_var("CANARY_TOKEN") }}', "AUTH": 'Bearer {{ env_var("CANARY_TOKEN", "x") }}'}
    assert spec["pull"][0] == {SET_ENVIRONMENT: {"env": run_time_env}}
    job_variables = spec["deployments"][0]["work_pool"]["job_variables"]
    assert job_variables["env"]["PLAIN"] == "hello" and "API_TOKEN" not in job_variables["env"]
    assert job_variables["working_dir"] == "{{ $WORKDIR }}"  # `prefect deploy` resolves it: a warning says so
    warnings = [d.message for d in diagnostics if d.severity == "warning"]
    assert warnings == [
        "mage_prefect.deployments.job_variables.working_dir reads WORKDIR: "
        "`prefect deploy` resolves it from its environment and stores it in the deployment"
    ]


def test_the_pull_step_sets_the_environment_and_masks_what_it_sets(monkeypatch):
    import os

    from mage_prefect.pull_steps import set_environment

    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.setenv("WORKER_TOKEN", "canary-pull-3c2d")
    # a Prefect Secret block's value arrives resolved: set as it is (not rendered), and masked
    resolved = "block-{{value}}-77"
    assert set_environment({"API_TOKEN": 'Bearer {{ env_var("WORKER_TOKEN") }}', "FROM_BLOCK": resolved}) == {}
    assert os.environ["API_TOKEN"] == "Bearer canary-pull-3c2d" and os.environ["FROM_BLOCK"] == resolved
    assert redact("x canary-pull-3c2d y block-{{value}}-77") == f"x {MASK} y {MASK}"
    set_environment({"UNSET_HERE": '{{ env_var("NOT_SET_ANYWHERE") }}'})
    assert os.environ.pop("UNSET_HERE") == "None" and redact("None") == "None"  # as Mage renders it, unmasked
    monkeypatch.delenv("API_TOKEN")
    monkeypatch.delenv("FROM_BLOCK")


def test_notifications_and_mlflow_params_and_tags_are_masked(tmp_path):
    from unittest.mock import MagicMock

    from mage_prefect.mlflow import _log_params
    from mage_prefect.notifications import RunFacts, notify
    from mage_prefect.project.contract import NotificationEntry

    remember("canary-note-8e1f")
    sent = []
    config = NotificationEntry.model_validate({"alert_on": ["trigger_failure"], "slack_config": {"webhook_url": "u"}})
    import mage_prefect.notifications as notifications

    original, notifications._post = notifications._post, lambda url, body: sent.append(body)
    try:
        notify(config, "failure", RunFacts("etl", "t", None, "http://ui", error="auth canary-note-8e1f"), MagicMock())
    finally:
        notifications._post = original
    assert sent and "canary-note-8e1f" not in str(sent) and f"auth {MASK}" in sent[0]["text"]
    client = MagicMock()
    _log_params(client, "run", {"token": "canary-note-8e1f", "n": 3})
    logged = {param.key: param.value for param in client.log_batch.call_args.kwargs["params"]}
    assert logged == {"token": MASK, "n": "3"}

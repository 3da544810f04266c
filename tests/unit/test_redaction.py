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

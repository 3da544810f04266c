"""Bad arguments of `run` are refused before a flow run starts: a clear error, exit 1, no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mage_prefect.cli import app

from .conftest import STANDALONE


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--runtime-vars", '{"event": 5}'], "the runtime variable 'event' must be a mapping"),
        (["--runtime-vars", '{"event": {"variables": [1]}}'], "the runtime variable 'event' must be a mapping"),
        (["--runtime-vars", "[1]"], "--runtime-vars must be a JSON object"),
        (["--runtime-vars", "{nope"], "--runtime-vars is not valid JSON"),
        (["--var", "event=5"], "the runtime variable 'event' must be a mapping"),
        (
            ["--from", "export_summary", "--to", "load_numbers"],
            "is both below 'export_summary' and above 'load_numbers'",
        ),
        (["--block", "summarize", "--from", "load_numbers"], "--block alone"),
        (["--block", "summarise"], "did you mean 'summarize'?"),
        (["--var", "novalue"], "--var expects KEY=VALUE"),
    ],
)
def test_bad_run_arguments_are_refused_before_any_flow_run(arguments, message):
    result = CliRunner().invoke(app, ["run", str(STANDALONE), "etl", *arguments])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, LookupError))

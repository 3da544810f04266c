"""The bad-input corpus (tests/bad_inputs.py): every broken project gets its diagnostic at its file,
never a traceback, a hang or a silent guess; every project Mage itself writes is accepted."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from mage_prefect.cli import app
from mage_prefect.project.validate import check_project
from tests.bad_inputs import CASES, MARKER

SECONDS = 2.0  # each validate of a small project returns within this


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bad_input_gets_its_diagnostic(case, tmp_path, monkeypatch):
    root = case.build(tmp_path)
    monkeypatch.chdir(tmp_path)  # where a template escaping the sandbox would write
    started = time.monotonic()
    _, diagnostics = check_project(root)
    elapsed = time.monotonic() - started

    assert elapsed < SECONDS, f"validate took {elapsed:.1f} s"
    shown = "\n".join(d.format(root) for d in diagnostics)
    for expected in case.expect:
        matching = [
            d
            for d in diagnostics
            if d.file == root / expected.file and d.severity == expected.severity and expected.text in d.message
        ]
        assert matching, f"no {expected.severity} '{expected.text}' in {expected.file}:\n{shown}"
        assert matching[0].hint, shown
    if not any(expected.severity == "error" for expected in case.expect):
        assert not [d for d in diagnostics if d.severity == "error"], shown
    assert not (tmp_path / MARKER).exists() and not (root / MARKER).exists()


@pytest.mark.parametrize("case", CASES[::4], ids=[case.name for case in CASES[::4]])
def test_the_validate_command_reports_them_without_a_traceback(case, tmp_path, monkeypatch):
    root = case.build(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(root)])
    fails = any(expected.severity == "error" for expected in case.expect)
    assert result.exit_code == (1 if fails else 0), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output

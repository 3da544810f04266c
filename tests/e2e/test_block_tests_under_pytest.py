"""`pytest --mage-prefect`: the blocks' @test functions as pytest items, against the outputs a real
run on a Prefect server stored."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mage_prefect import run_pipeline

from .conftest import HERE, copy_project

pytestmark = pytest.mark.e2e


def _pytest(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--mage-prefect", "-p", "no:cacheprovider", "-q", *args, str(project)],
        capture_output=True,
        text=True,
        cwd=project,
        env=dict(os.environ),
        timeout=300,
    )


def test_block_tests_run_against_the_stored_outputs_and_fail_with_mages_message(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "tested", tmp_path_factory)
    before = _pytest(project)
    assert before.returncode == 1
    assert "block 'ranked' of pipeline 'checked' has no stored output" in before.stdout, before.stdout
    assert "run the pipeline first (mage-prefect run" in before.stdout

    assert run_pipeline(project, "checked").ok
    passing = _pytest(project)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "3 passed" in passing.stdout

    ranked = project / "transformers" / "ranked.py"  # a test changed after the run: it reads the stored output
    ranked.write_text(
        ranked.read_text().replace("== sorted(output['values'])", "== sorted(output['values'], reverse=True)")
    )
    failing = _pytest(project)
    assert failing.returncode == 1
    assert "1 failed, 2 passed" in failing.stdout, failing.stdout
    assert "FAIL: test_ascending (block: ranked)" in failing.stdout
    assert "AssertionError: The values are not in ascending order" in failing.stdout

    selected = _pytest(project, "-m", "mage_block", "-k", "numbers")
    assert "1 passed, 2 deselected" in selected.stdout, selected.stdout
    unselected = _pytest(project, "-m", "not mage_block")
    assert "3 deselected" in unselected.stdout, unselected.stdout


def test_with_mage_prefect_run_the_tests_check_a_fresh_run_of_the_block(prefect_server, tmp_path_factory):
    project = copy_project(HERE / "projects" / "tested", tmp_path_factory)
    unrun = _pytest(project, "--mage-prefect-run")
    assert "2 failed, 1 passed" in unrun.stdout, unrun.stdout  # numbers runs fresh; ranked's upstream has no output
    assert "block 'numbers' of pipeline 'checked' has no stored output" in unrun.stdout

    assert run_pipeline(project, "checked").ok
    ranked = project / "transformers" / "ranked.py"  # the block changed after the run: a fresh run shows it
    ranked.write_text(ranked.read_text().replace("sorted(numbers['values'])", "sorted(numbers['values'])[::-1]"))
    assert "3 passed" in _pytest(project).stdout  # the stored outputs were right

    fresh = _pytest(project, "--mage-prefect-run")
    assert fresh.returncode == 1
    assert "1 failed, 2 passed" in fresh.stdout, fresh.stdout
    assert "FAIL: test_ascending (block: ranked)" in fresh.stdout
    assert "AssertionError: The values are not in ascending order" in fresh.stdout
    assert "3 passed" in _pytest(project).stdout  # the fresh run stored nothing

    ranked.write_text(ranked.read_text().replace("return {", "raise ValueError('no numbers today')\n    return {"))
    broken = _pytest(project, "--mage-prefect-run")
    assert "2 failed, 1 passed" in broken.stdout, broken.stdout
    assert "ValueError: no numbers today" in broken.stdout and "transformers/ranked.py" in broken.stdout

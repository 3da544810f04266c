"""The pytest plugin's collection: a block's @test functions as items, read without running the
block code; a project that does not validate is a collection error with its diagnostics."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTED = Path(__file__).parents[1] / "e2e" / "projects" / "tested"


def _collect(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args, str(project)],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
    )


def test_each_test_function_of_a_block_is_an_item(tmp_path):
    project = Path(shutil.copytree(TESTED, tmp_path / "tested"))
    (project / "ran").unlink(missing_ok=True)
    loader = project / "data_loaders" / "numbers.py"
    loader.write_text(loader.read_text() + "\nopen('ran', 'w').close()\n")  # would show that collection ran the code

    done = _collect(project, "--mage-prefect")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[:3] == [
        "pipelines/checked/metadata.yaml::numbers::test_has_values",
        "pipelines/checked/metadata.yaml::ranked::test_counts_every_value",
        "pipelines/checked/metadata.yaml::ranked::test_ascending",
    ]
    assert not (project / "ran").exists()


def test_without_the_option_nothing_is_collected(tmp_path):
    project = Path(shutil.copytree(TESTED, tmp_path / "tested"))
    assert "no tests collected" in _collect(project).stdout


def test_a_project_that_does_not_validate_is_a_collection_error(tmp_path):
    project = Path(shutil.copytree(TESTED, tmp_path / "tested"))
    (project / "transformers" / "ranked.py").write_text("@transformer\ndef ranked(numbers:\n")

    done = _collect(project, "--mage-prefect")

    assert done.returncode == 2
    assert "transformers/ranked.py:2" in done.stdout and "syntax error" in done.stdout


def test_mage_prefect_run_alone_collects_the_block_tests_too(tmp_path):
    project = Path(shutil.copytree(TESTED, tmp_path / "tested"))
    done = _collect(project, "--mage-prefect-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pipelines/checked/metadata.yaml::ranked::test_ascending" in done.stdout

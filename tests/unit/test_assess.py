"""`mage-prefect assess`: golden migration reports for fixture projects (regenerate them, after a
deliberate change, with MAGE_PREFECT_GOLDEN=update), and the report never running block code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mage_prefect.project.assess import assess, render

TESTS = Path(__file__).parents[1]
GOLDEN = Path(__file__).parent / "golden" / "assess"
CASES = [
    ("unsupported_project", TESTS / "fixtures" / "projects" / "unsupported_project", "markdown"),
    ("unsupported_project", TESTS / "fixtures" / "projects" / "unsupported_project", "json"),
    ("mlops", TESTS / "fixtures" / "projects" / "mlops", "markdown"),
    ("dbt_shop", TESTS / "e2e" / "projects" / "dbt_shop", "text"),
    ("warehouse", TESTS / "e2e" / "projects" / "warehouse", "html"),
]
SUFFIXES = {"markdown": "md", "json": "json", "text": "txt", "html": "html"}


@pytest.mark.parametrize(("name", "project", "format"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_the_report_is_the_golden_one(name, project, format):
    report = render(assess(project), format)
    golden = GOLDEN / f"{name}.{SUFFIXES[format]}"
    if os.environ.get("MAGE_PREFECT_GOLDEN") == "update":
        golden.write_text(report)
    assert report == golden.read_text()


def test_a_report_names_each_blocker_with_its_place_and_fix():
    reports = {report.pipeline: report for report in assess(TESTS / "fixtures" / "projects" / "unsupported_project")}
    assert not reports["sql_and_r"].runs and reports["with_add_ons"].runs
    assert {"file": "pipelines/sql_and_r/metadata.yaml", "line": 24} == {
        key: reports["sql_and_r"].blockers[0][key] for key in ("file", "line")
    }
    assert reports["sql_and_r"].blockers[0]["fix"] == "see the README's list of supported Mage features"


def test_assessing_never_runs_block_code(tmp_path):
    project = Path(shutil.copytree(TESTS / "e2e" / "projects" / "tested", tmp_path / "tested"))
    loader = project / "data_loaders" / "numbers.py"
    loader.write_text(loader.read_text() + "\nopen('ran', 'w').close()\n")
    assert assess(project)[0].runs
    assert not (project / "ran").exists()

"""Shared helpers for the unit tests: fixture projects, block models and import isolation."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mage_prefect.project.models import Block, SourceRef
from mage_prefect.runtime.context import RunContext

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"
STANDALONE = PROJECTS / "standalone_project"
PLATFORM = PROJECTS / "platform_root"
UNSUPPORTED = PROJECTS / "unsupported_project"
BROKEN = PROJECTS / "broken_project"
RUNTIME = PROJECTS / "runtime_project"

EXECUTION_DATE = datetime(2024, 5, 16, 7, 30, tzinfo=UTC)
SOURCE = SourceRef(file=RUNTIME / "pipelines" / "unit" / "metadata.yaml", line=1)


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the only line of `path` that contains `text`."""
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line]
    assert len(numbers) == 1, f"{text!r} occurs on lines {numbers} of {path}"
    return numbers[0]


def runtime_block(relative: str, block_type: str, upstream: tuple[str, ...] = (), **fields) -> Block:
    """A Block model for a file of the runtime fixture project (uuid = file stem)."""
    file = RUNTIME / relative
    return Block(uuid=file.stem, type=block_type, upstream_blocks=tuple(upstream), file=file, source=SOURCE, **fields)


def inline_block(uuid: str, block_type: str, content: str) -> Block:
    """A Block model whose code is inline `content` in the pipeline's metadata.yaml."""
    return Block(uuid=uuid, type=block_type, content=content, source=SOURCE)


@pytest.fixture()
def run_context() -> RunContext:
    return RunContext(
        pipeline_uuid="unit_pipeline",
        repo_path=RUNTIME,
        root_path=RUNTIME,
        execution_date=EXECUTION_DATE,
        variables={"threshold": 0.5},
        env="prod",
    )


@pytest.fixture()
def isolated_imports(monkeypatch):
    """Undo what executing blocks does to the import system: sys.path entries and imported modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in {"runtime_project", "platform_root", "standalone_project", "mage_ai"}:
            del sys.modules[name]

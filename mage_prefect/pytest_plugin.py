"""pytest plugin (entry point `pytest11`): with `--mage-prefect`, every Mage block's `@test`
functions are pytest items — `pipelines/<p>/metadata.yaml::<block>::<test>`, marked `mage_block` —
run against the block's latest stored outputs (with `--mage-prefect-run`, against a fresh run of the
block here, once per session), failing with Mage's message. Collection reads the code, never runs it."""

from __future__ import annotations

import ast
import traceback
import uuid
from contextlib import chdir
from pathlib import Path
from typing import Any

import pytest

MARKER = "mage_block"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mage-prefect")
    group.addoption(
        "--mage-prefect",
        action="store_true",
        help="collect the @test functions of Mage blocks (pipelines/*/metadata.yaml)",
    )
    group.addoption(
        "--mage-prefect-run",
        action="store_true",
        help="test a fresh run of each block here (on its upstreams' stored outputs; nothing is stored) instead "
        "of its stored outputs (implies --mage-prefect)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a Mage block's @test function, collected by mage-prefect")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    wanted = parent.config.getoption("mage_prefect") or parent.config.getoption("mage_prefect_run")
    if wanted and file_path.name == "metadata.yaml":
        if file_path.parent.parent.name == "pipelines":
            return PipelineFile.from_parent(parent, path=file_path)
    return None


def _test_functions(source: str) -> list[str]:
    """The names of the functions the code decorates with @test (read, not run)."""
    tree = ast.parse(source)
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(getattr(getattr(d, "func", d), "id", None) == "test" for d in node.decorator_list)
    ]


class PipelineFile(pytest.File):
    """A pipeline's metadata.yaml: its Python blocks' @test functions."""

    def collect(self):
        from .project.errors import format_report, has_errors
        from .project.validate import check_project
        from .runtime.block_code import block_source

        root, key = self.path.parents[2], self.path.parent.name
        project, diagnostics = check_project(root, key)
        if project is None or has_errors(diagnostics):
            raise self.CollectError(format_report(diagnostics, "text", relative_to=Path.cwd()))
        for block in project.pipeline(key).blocks:
            if block.language != "python" or block.type not in (
                "data_loader",
                "transformer",
                "data_exporter",
                "custom",
            ):
                continue
            for name in _test_functions(block_source(block)[0]):
                yield BlockTest.from_parent(
                    self, name=f"{block.uuid}::{name}", root=root, pipeline=key, block=block.uuid
                )


class BlockTest(pytest.Item):
    """One @test function of a block, called with the block's outputs, as Mage calls it."""

    def __init__(self, *, root: Path, pipeline: str, block: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.root, self.pipeline, self.block = root, pipeline, block
        self.test = self.name.rsplit("::", 1)[1]
        self.add_marker(MARKER)

    def runtest(self) -> None:
        from .project.validate import load_project
        from .runtime.block_code import compiled_block_code, load_block_code
        from .runtime.calling import call

        project = load_project(self.root, self.pipeline)
        pipeline = project.pipeline(self.pipeline)
        block = pipeline.block(self.block)
        if self.config.getoption("mage_prefect_run"):
            fresh = self.config.stash.setdefault(FRESH_RUNS, {})
            key = (self.root, self.pipeline, self.block)
            if key not in fresh:
                fresh[key] = _fresh_run(project, pipeline, block)
            outputs = fresh[key]
            if isinstance(outputs, BaseException):
                raise outputs
        else:
            outputs = _stored(project, pipeline, block.uuid)
        code = load_block_code(block.uuid, *compiled_block_code(block))
        test = next(function for function in code.decorated["test"] if function.__name__ == self.test)
        call(test, outputs, dict(pipeline.variables))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        from .runtime.execute import BlockFailed

        if isinstance(excinfo.value, BlockNotRun | BlockFailed):
            return str(excinfo.value)
        frames = traceback.format_exception(excinfo.value)
        own = [frame for frame in frames if "mage_prefect/" not in frame and "_pytest" not in frame]
        return f"FAIL: {self.test} (block: {self.block})\n" + "".join(own)

    def reportinfo(self):
        return self.path, None, f"{self.pipeline}::{self.block}::{self.test}"


class BlockNotRun(Exception):
    """The block has no outputs to test."""


FRESH_RUNS = pytest.StashKey[dict]()  # (project, pipeline, block) → the fresh run's outputs, or its error


def _stored(project, pipeline, block: str) -> list[Any]:
    """The block's outputs of its latest stored run."""
    from .api import get_outputs
    from .project.errors import NotFound

    try:
        return get_outputs(project, pipeline.key, block)
    except NotFound as exc:  # "… has no stored output …; run the pipeline first"
        raise BlockNotRun(f"{exc} (mage-prefect run {project.root} {pipeline.key})") from None


def _fresh_run(project, pipeline, block) -> list[Any] | BaseException:
    """The block's outputs of a run here, without its @tests, on its upstreams' latest stored outputs
    (the run stores nothing); its error, when it fails."""
    from .project.graph import dynamic_children
    from .project.parameters import RunOptions
    from .results.store import results_location
    from .runtime.context import RunOrigin, run_context
    from .runtime.execute import BlockFailed, execute_block

    upstreams = [pipeline.block(uuid) for uuid in block.upstream_blocks]
    if block.replicated_block or block.uuid in dynamic_children(pipeline):
        return BlockNotRun(
            f"block '{block.uuid}' is a dynamic child or a replica, which --mage-prefect-run does not run alone: "
            f"run the pipeline, then test its stored outputs without --mage-prefect-run"
        )
    try:
        inputs = [_stored(project, pipeline, upstream.uuid) for upstream in upstreams]
    except BlockNotRun as exc:
        return exc
    origin = RunOrigin(f"pytest-{uuid.uuid4().hex}")
    context = run_context(
        project, pipeline, dict(pipeline.variables), RunOptions(), origin, results_location(project, None)
    )
    try:
        with chdir(project.root.parent):
            return execute_block(block, inputs, context, tests=False, upstreams=upstreams)
    except BlockFailed as exc:
        return exc

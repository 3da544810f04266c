"""Run one block: load its code, shape its arguments, call it, split its outputs, run its tests."""

from __future__ import annotations

import contextvars
import inspect
import logging
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from ..project.models import Block
from . import compat
from .arguments import RunContext, block_kwargs, own_copy, shape_input, split_outputs
from .block_code import BlockCodeError, arity_problem, compile_block, load_block_code


class BlockFailed(Exception):
    """A block raised; the message names the block, its file and line, and the original error."""


class BlockTimeout(BlockFailed):
    pass


def block_source(block: Block) -> tuple[str, str]:
    """The code Mage runs for a block (inline `content` first, else its file) and its filename."""
    if block.content is not None:
        return block.content, block.code_location
    return block.file.read_text(encoding="utf-8"), str(block.file)


def compiled_block(block: Block):
    source, filename = block_source(block)
    return compile_block(source, filename)


def execute_block(
    block: Block,
    inputs: list[list[Any]],
    context: RunContext,
    *,
    attempt: int = 1,
    logger: Any = None,
    code=None,
) -> list[Any]:
    """Execute `block` with its upstreams' outputs (in `upstream_blocks` order); return its outputs."""
    logger = logger or logging.getLogger(f"mage_prefect.block.{block.uuid}")
    filename = block.code_location
    _prepare_imports(context)
    token = compat.ACTIVE_REPO.set((context.repo_path, context.root_path))
    try:
        code = code or compiled_block(block)
        loaded = load_block_code(block.uuid, code, filename, _upstream_globals(block, inputs))
        function = loaded.main_function(block.type)
        _check_arity(block, function)
        args = [own_copy(shape_input(outputs)) for outputs in inputs]
        kwargs = block_kwargs(block, context, attempt, logger)
        value = _call(function, args, kwargs, block.timeout, block.uuid)
        outputs = split_outputs(value)
        run_tests(block.uuid, loaded.decorated.get("test", []), outputs, kwargs, logger)
        return outputs
    except BlockFailed:
        raise
    except BlockCodeError as exc:
        raise BlockFailed(f"Block '{block.uuid}' ({filename}): {exc}") from exc
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise BlockFailed(f"Block '{block.uuid}' failed at {_where(exc, filename)}: {type(exc).__name__}: {exc}") from exc
    finally:
        compat.ACTIVE_REPO.reset(token)


def run_tests(uuid: str, tests: list[Callable], outputs: list[Any], kwargs: dict, logger: Any) -> None:
    """Mage's @test semantics: every test runs; AssertionErrors are collected, then the block fails."""
    failed = 0
    for test in tests:
        try:
            test(*outputs, **(kwargs if _accepts_kwargs(test) else {}))
        except AssertionError:
            failed += 1
            logger.error(f"FAIL: {test.__name__} (block: {uuid})\n{traceback.format_exc()}")
    if failed:
        raise Exception(f"Failed to pass tests for block {uuid}")
    if tests:
        logger.info(f"{len(tests)} test(s) passed for block {uuid}")


def _call(function: Callable, args: list, kwargs: dict, timeout: float | None, uuid: str) -> Any:
    """Call the block function, passing kwargs only if it declares **kwargs (as Mage does)."""
    call_kwargs = kwargs if _accepts_kwargs(function) else {}
    if not timeout:
        return function(*args, **call_kwargs)
    # A thread cannot be killed: on timeout the block fails and its thread's result is discarded.
    outcome: dict[str, Any] = {}
    run = contextvars.copy_context().run

    def target():
        try:
            outcome["value"] = run(function, *args, **call_kwargs)
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"block-{uuid}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise BlockTimeout(f"Block '{uuid}' timed out after {timeout:g} s (its 'timeout')")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _check_arity(block: Block, function: Callable) -> None:
    parameters = inspect.signature(function).parameters.values()
    positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    has_varargs = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    problem = arity_problem(block.uuid, positional, has_varargs, len(block.upstream_blocks))
    if problem:
        raise BlockCodeError(problem)


def _accepts_kwargs(function: Callable) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(function).parameters.values())


def _upstream_globals(block: Block, inputs: list[list[Any]]) -> dict[str, Any]:
    """Mage injects each upstream's input into the block's globals as `<uuid>` and `df_<n>`."""
    values: dict[str, Any] = {}
    for number, (uuid, outputs) in enumerate(zip(block.upstream_blocks, inputs), start=1):
        values[uuid] = values[f"df_{number}"] = shape_input(outputs)
    return values


def _prepare_imports(context: RunContext) -> None:
    """The parent of the root project on sys.path (so `import <project>.utils` works) + the shim."""
    parent = str(context.root_path.parent)
    if parent not in sys.path:
        sys.path.append(parent)
    compat.install()


def _where(exc: BaseException, filename: str) -> str:
    """`file:line` of the deepest frame in the block's own code, else the block file."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == filename]
    return f"{filename}:{lines[-1]}" if lines else filename

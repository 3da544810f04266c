"""Run one block: conditionals, code, arguments, call (or sensor polling), outputs, tests, callbacks."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from ..project.block_checks import arity_problem
from ..project.models import Block
from ..redaction import redact
from . import compat, exits
from .add_ons import conditions_hold, run_callbacks
from .arguments import RunContext, block_kwargs, own_copy, shape_input, split_outputs
from .block_code import BlockCodeError, block_source, compiled_block_code, load_block_code
from .calling import accepts_varargs, call, positional_count
from .dbt import run_dbt_block
from .sql import run_sql_block

MESSAGE_LIMIT = 4000  # a database error can quote a whole statement and its parameters


class BlockFailed(Exception):
    """A block raised; the message names the block, its file and line, and the original error."""


class BlockTimeout(BlockFailed):
    pass


class ConditionFailed(Exception):
    """A conditional of the block was false: the block and its descendants are skipped."""


def execute_block(
    block: Block,
    inputs: list[list[Any]],
    context: RunContext,
    *,
    attempt: int = 1,
    final_attempt: bool = True,
    logger: Any = None,
    code=None,
    conditionals: Sequence[Block] = (),
    callbacks: Sequence[Block] = (),
    extra_kwargs: dict[str, Any] | None = None,
    upstreams: Sequence[Block] = (),
    downstreams: Sequence[Block] = (),
    tests: bool = True,
) -> list[Any]:
    """Execute `block` with its upstreams' outputs (in `upstream_blocks` order); return its outputs.

    `extra_kwargs` are merged last (a dynamic child's metadata and `dynamic_block_index`).
    `upstreams` are the upstream blocks themselves (a SQL block needs their tables), `downstreams`
    the blocks that take its outputs (a dbt block reads its model's rows for non-dbt ones only).
    Without `tests`, its @test functions are not run (the pytest plugin runs each as an item).
    Raises ConditionFailed when a conditional is false, BlockFailed when the block fails.
    """
    logger = logger or logging.getLogger(f"mage_prefect.block.{block.uuid}")
    filename = block.code_location
    with _bound_to(context):
        kwargs = {**block_kwargs(block, context, attempt, logger), **(extra_kwargs or {})}
        injected: dict[str, Any] = {}
        loaded = None
        try:
            if conditionals and not conditions_hold(conditionals, block, inputs, kwargs, logger):
                raise ConditionFailed(f"a condition of block '{block.uuid}' is false")
            if block.type == "dbt":
                invoke = getattr(context.services, "run_dbt", None)
                rows = any(getattr(other, "type", "chart") != "dbt" for other in downstreams)  # a chart too
                run = partial(
                    run_dbt_block, block, kwargs, context.root_path, invoke, logger, rows, list(zip(upstreams, inputs))
                )
                outputs = _call(run, [], {}, block.timeout, block.uuid)
            elif block.language == "sql":
                outputs = _run_sql(block, upstreams, inputs, kwargs, context, logger)
            else:
                injected = _upstream_globals(block, inputs)
                loaded = load_block_code(block.uuid, code or compiled_block_code(block)[0], filename, injected)
                outputs = _run_function(loaded, block, inputs, kwargs, context, logger, tests)
        except ConditionFailed:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _failed(block, exc, context, final_attempt, callbacks, kwargs, logger)  # noqa: B904 (cause set)
        else:
            run_callbacks(callbacks, block, "success", outputs, kwargs, logger)
            return outputs
        finally:
            if loaded is not None:  # the block's functions reference these globals: free large inputs now
                for name in injected:
                    loaded.namespace.pop(name, None)


def _run_sql(block: Block, upstreams: Sequence[Block], inputs: list[list[Any]], kwargs: dict, context, logger):
    source = block_source(block)[0]
    run = partial(run_sql_block, block, source, upstreams, inputs, kwargs, context.repo_path, logger, block.timeout)
    return _call(run, [], {}, block.timeout, block.uuid)


def _failed(
    block: Block, exc: BaseException, context: RunContext, final_attempt: bool, callbacks, kwargs: dict, logger
) -> BlockFailed:
    """The block's failure as BlockFailed; on its final attempt the run halts first (unless blocks
    may fail) and the block's failure callbacks run."""
    if isinstance(exc, SystemExit):
        exc = exits.as_failure(exc)
    if final_attempt:
        if context.halt is not None:  # before the callbacks: a slow alert must not let blocks start
            context.halt.set()
        run_callbacks(callbacks, block, "failure", None, kwargs, logger, error=exc)
    if isinstance(exc, BlockFailed):
        return exc
    failed = _block_failed(block, block.code_location, exc)
    failed.__cause__, failed.__suppress_context__ = exc, True  # as `raise failed from exc`
    return failed


def _run_function(
    loaded, block: Block, inputs: list[list[Any]], kwargs: dict, context: RunContext, logger, tests: bool
) -> list[Any]:
    """Call the block's main function (or poll its sensor) and run its @test functions (if `tests`)."""
    function = loaded.main_function(block.type)
    args = [own_copy(shape_input(outputs)) for outputs in inputs]
    if block.type == "sensor":
        _poll_sensor(function, args, kwargs, block, context, logger)
        return []  # a sensor stores no output
    _check_arity(block, function)
    outputs = split_outputs(_call(function, args, kwargs, block.timeout, block.uuid))
    if tests:
        run_tests(block.uuid, loaded.decorated.get("test", []), outputs, kwargs, logger)
    return outputs


def run_cancelled_callbacks(block: Block, context: RunContext, callbacks: Sequence[Block], logger: Any) -> None:
    """Mage runs a block's `@callback('cancelled')` functions when its block run is cancelled."""
    with _bound_to(context):
        run_callbacks(callbacks, block, "cancelled", None, block_kwargs(block, context, 1, logger), logger)


def run_tests(uuid: str, tests: list[Callable], outputs: list[Any], kwargs: dict, logger: Any) -> None:
    """Mage's @test semantics: every test runs; AssertionErrors are collected, then the block fails."""
    failed = 0
    for test in tests:
        try:
            call(test, outputs, kwargs)
        except AssertionError:
            failed += 1
            logger.error(f"FAIL: {test.__name__} (block: {uuid})\n{traceback.format_exc()}")
    if failed:
        raise Exception(f"Failed to pass tests for block {uuid}")
    if tests:
        logger.info(f"{len(tests)} test(s) passed for block {uuid}")


def _poll_sensor(function: Callable, args: list, kwargs: dict, block: Block, context: RunContext, logger) -> None:
    """Call the sensor until it returns a truthy value, every `sensor_interval` s, within `timeout`."""
    if context.skip_sensors:
        logger.info(f"sensor {block.uuid} skipped (--skip-sensors)")
        return
    call_args = args if accepts_varargs(function) else []
    deadline = time.monotonic() + block.timeout if block.timeout else None
    while not call(function, call_args, kwargs):
        if deadline is not None and time.monotonic() + context.sensor_interval > deadline:
            raise BlockTimeout(f"Sensor '{block.uuid}' was still false after its timeout of {block.timeout:g} s")
        logger.info(f"Sensor sleeping for {context.sensor_interval:g} s...")
        time.sleep(context.sensor_interval)


# What a block's own thread (one with a timeout) must take over from the task's thread, beyond
# context variables: each callable, called in the task's thread, returns what to call in the block's
# (MLflow's active run is thread-local: mlflow.py registers it, so autolog logs into the block's run).
THREAD_INHERITANCE: list[Callable[[], Callable[[], Any]]] = []


def _call(function: Callable, args: list, kwargs: dict, timeout: float | None, uuid: str) -> Any:
    """Call the block function as Mage does; after `timeout` seconds the block fails."""
    if not timeout:
        return call(function, args, kwargs)
    # A thread cannot be killed: on timeout the block fails and its thread's result is discarded.
    outcome: dict[str, Any] = {}
    run = contextvars.copy_context().run
    inherited = [take_over() for take_over in THREAD_INHERITANCE]

    def in_block_thread():
        for inherit in inherited:
            inherit()
        return call(function, args, kwargs)

    def target():
        try:
            outcome["value"] = run(in_block_thread)
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
    problem = arity_problem(
        block.uuid, positional_count(function), accepts_varargs(function), len(block.upstream_blocks)
    )
    if problem:
        raise BlockCodeError(problem)


def _block_failed(block: Block, filename: str, exc: BaseException) -> BlockFailed:
    if isinstance(exc, BlockCodeError):
        return BlockFailed(f"Block '{block.uuid}' ({filename}): {exc}")
    text = redact(str(exc))  # a secret the block read must not reach states, logs and the CLI
    text = text if len(text) <= MESSAGE_LIMIT else f"{text[:MESSAGE_LIMIT]}… (cut at {MESSAGE_LIMIT} characters)"
    return BlockFailed(f"Block '{block.uuid}' failed at {_where(exc, filename)}: {type(exc).__name__}: {text}")


def _upstream_globals(block: Block, inputs: list[list[Any]]) -> dict[str, Any]:
    """Mage injects each upstream's input into the block's globals as `<uuid>` and `df_<n>`."""
    values: dict[str, Any] = {}
    for number, (uuid, outputs) in enumerate(zip(block.upstream_blocks, inputs), start=1):
        values[uuid] = values[f"df_{number}"] = shape_input(outputs)
    return values


@contextmanager
def _bound_to(context: RunContext):
    """Block code of this run can import: the parent of the root project is on sys.path (so
    `import <project>.utils` works) and the mage_ai shim is installed and answers for this run.
    It runs in that folder, as the flow does (a Dask or Ray worker process starts elsewhere)."""
    parent = str(context.root_path.parent)
    if parent not in sys.path:
        sys.path.append(parent)
    if os.getcwd() != parent:
        os.chdir(parent)
    compat.install()
    token = compat.ACTIVE.set(context)
    try:
        with exits.guarded():
            yield
    finally:
        compat.ACTIVE.reset(token)


def _where(exc: BaseException, filename: str) -> str:
    """`file:line` of the deepest frame in the block's own code, else the block file."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == filename]
    return f"{filename}:{lines[-1]}" if lines else filename

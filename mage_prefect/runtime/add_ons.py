"""Mage's add-on blocks around a block run: conditionals before it, callbacks after it."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..project.models import Block
from .arguments import shape_input
from .block_code import compiled_block_code, load_block_code
from .calling import call, has_positional


def conditions_hold(
    conditionals: Sequence[Block], parent: Block, inputs: list[list[Any]], kwargs: dict, logger: Any
) -> bool:
    """Every @condition of every conditional must hold; an exception counts as False (as in Mage)."""
    args = [shape_input(outputs) for outputs in inputs]
    for conditional in conditionals:
        extra = {"block_uuid": conditional.uuid, "parent_block_uuid": parent.uuid}
        for function in _functions(conditional, "condition"):
            try:
                held = call(function, args, {**kwargs, **extra})
            except Exception:
                logger.warning(
                    f"condition {conditional.uuid}.{function.__name__} raised (counts as false):\n"
                    f"{traceback.format_exc()}"
                )
                held = False
            if not held:
                logger.info(
                    f"condition {conditional.uuid} is false: block {parent.uuid} and its descendants are skipped"
                )
                return False
    return True


def run_callbacks(
    callbacks: Sequence[Block],
    parent: Block,
    status: str,
    outputs: list[Any] | None,
    kwargs: dict,
    logger: Any,
    error: BaseException | None = None,
) -> None:
    """Run the parent's `@callback(status)` functions and legacy `@on_<status>`; errors are logged only."""
    extra = {"parent_block_uuid": parent.uuid}
    if error is not None:
        extra["__error"] = error
    # a failed or cancelled parent has no output: Mage's template `fn(parent_block_data, **kwargs)` gets None
    output = shape_input(outputs) if outputs is not None else None
    for callback in callbacks:
        for function in _callback_functions(callback, status):
            values = {**kwargs, **extra, "block_uuid": callback.uuid}
            if has_positional(function):
                _guarded(partial(call, function, [output], values), callback.uuid, logger)
            elif outputs is None:
                _guarded(partial(call, function, [], values), callback.uuid, logger)
            else:
                _guarded(partial(function, **values, __input={parent.uuid: output}), callback.uuid, logger)
    if parent.callback_file is not None:
        legacy = parent.model_copy(
            update={
                "uuid": f"{parent.uuid}_callback",
                "file": parent.callback_file,
                "content": None,
                "type": "callback",
            }
        )
        for function in _functions(legacy, f"on_{status}"):
            _guarded(partial(function, **{**kwargs, **extra}), legacy.uuid, logger)


def _callback_functions(callback: Block, status: str) -> list[Callable]:
    code = _load(callback)
    return [f for f in code.decorated.get("callback", []) if (code.arguments.get(id(f)) or ("success",))[0] == status]


def _functions(block: Block, decorator: str) -> list[Callable]:
    return _load(block).decorated.get(decorator, [])


def _load(block: Block):
    code, filename = compiled_block_code(block)
    return load_block_code(block.uuid, code, filename)


def _guarded(call: Callable[[], Any], uuid: str, logger: Any) -> None:
    try:
        call()
    except Exception:
        logger.error(f"callback {uuid} failed (ignored, as in Mage):\n{traceback.format_exc()}")

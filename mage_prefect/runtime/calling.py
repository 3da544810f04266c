"""How Mage calls a user function: which parameters it declares decides what it is given."""

from __future__ import annotations

import inspect
from collections.abc import Callable


def _parameters(function: Callable):
    return inspect.signature(function).parameters.values()


def accepts_kwargs(function: Callable) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in _parameters(function))


def accepts_varargs(function: Callable) -> bool:
    return any(p.kind == p.VAR_POSITIONAL for p in _parameters(function))


def positional_count(function: Callable) -> int:
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in _parameters(function))


def call(function: Callable, args: list, kwargs: dict):
    """Call a user function as Mage does: with the kwargs only if it declares **kwargs."""
    return function(*args, **(kwargs if accepts_kwargs(function) else {}))


def has_positional(function: Callable) -> bool:
    return positional_count(function) > 0 or accepts_varargs(function)

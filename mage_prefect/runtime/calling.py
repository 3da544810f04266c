"""How Mage calls a user function: which parameters it declares decides what it is given."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable

_PARAMETERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a function's, read once per block run


def _parameters(function: Callable):
    try:
        return _PARAMETERS[function]
    except (KeyError, TypeError):  # TypeError: not weakly referenceable (a builtin)
        parameters = tuple(inspect.signature(function).parameters.values())
    try:
        _PARAMETERS[function] = parameters
    except TypeError:
        pass
    return parameters


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

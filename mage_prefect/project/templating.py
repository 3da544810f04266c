"""Jinja rendering of what Mage renders: project files, io_config.yaml, SQL block content.

Templates render in Jinja's sandbox, with bounds: `validate` and `compile` run on pull requests in
CI, so a template must neither reach Python's internals (`cycler.__init__.__globals__`) nor hang or
exhaust memory. Each render may take MAX_STEPS loop iterations and calls together, pass no number
above MAX_SIZE to a call (`'x'.ljust(10**10)`), build values of at most MAX_SIZE items by `*`, `**`
or a call, and produce at most MAX_SIZE characters.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..redaction import remember

MAX_STEPS = 250_000
MAX_SIZE = 10 * 1024 * 1024
_BOUNDED = "mage_prefect_bounded"  # the filter every `{% for %}` iterates through
_steps: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_steps")


class TemplateLimitError(SecurityError):
    """A template went beyond what a project file's template may do."""


def env_var(name: str, default: Any = None) -> Any:
    """Mage's `env_var`: `os.getenv`, so an unset variable renders as 'None'. The value is a
    secret source: it is masked wherever mage-prefect writes text (redaction.py)."""
    return remember(os.getenv(name, default))


def json_value(json_string: str, key_or_path: str) -> Any:
    """Mage's `json_value`: a value from a JSON string by key or dotted path."""
    value: Any = json.loads(json_string) if json_string else {}
    for part in str(key_or_path).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


TEMPLATE_FUNCTIONS = {"env_var": env_var, "json_value": json_value}


def _spend(steps: int = 1) -> None:
    left = _steps.get()
    left[0] -= steps
    if left[0] < 0:
        raise TemplateLimitError(f"the template runs more than {MAX_STEPS:,} loop iterations and calls")


def _bounded(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


def _check_size(args: Iterable[Any]) -> None:
    if any(isinstance(value, int) and abs(value) > MAX_SIZE for value in args):
        raise TemplateLimitError(
            f"a call with a number above {MAX_SIZE:,} ('x'.ljust(10**10)?) is too large for a template"
        )


def _sized(function):
    """A filter that refuses numbers above MAX_SIZE (Jinja calls filters directly, not through `call`)."""

    @functools.wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def sized(*args: Any, **kwargs: Any) -> Any:
        _check_size((*args, *kwargs.values()))
        return function(*args, **kwargs)

    return sized


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with every loop and call counted against the render's budget."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, undefined: type[jinja2.Undefined]):
        super().__init__(keep_trailing_newline=True, undefined=undefined)
        self.filters = {name: _sized(function) for name, function in self.filters.items()}  # `|center(10**9)`
        self.filters[_BOUNDED] = _bounded

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _BOUNDED, [], [], None, None, lineno=loop.iter.lineno)
        return tree

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        _spend()
        _check_size((*args, *kwargs.values()))
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, bytes, list, tuple)) and len(result) > MAX_SIZE:
            raise TemplateLimitError(f"a call built a value of {len(result):,} items, too large for a template")
        return result

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * max(abs(left).bit_length(), 1) > MAX_SIZE
        ):
            raise TemplateLimitError(f"{left} ** {right} is too large for a template")
        if operator == "*" and (
            isinstance(right, int)
            and isinstance(left, (str, list, tuple))
            or isinstance(left, int)
            and isinstance(right, (str, list, tuple))
        ):
            count, sequence = (right, left) if isinstance(right, int) else (left, right)
            if count * len(sequence) > MAX_SIZE:
                raise TemplateLimitError(f"repeating a value {count:,} times is too large for a template")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENTS = {
    strict: _BoundedSandbox(jinja2.StrictUndefined if strict else jinja2.Undefined) for strict in (False, True)
}


def render(text: str, names: dict[str, Any] | None = None, *, strict: bool = False) -> str:
    """Render text with Mage's no-database template functions plus `names`; `strict` makes an
    unknown name an error (Mage renders SQL block content that way)."""
    template = _ENVIRONMENTS[strict].from_string(text)
    token = _steps.set([MAX_STEPS])
    try:
        parts, size = [], 0
        for part in template.generate({**TEMPLATE_FUNCTIONS, **(names or {})}):
            size += len(part)
            if size > MAX_SIZE:
                raise TemplateLimitError(f"the template renders more than {MAX_SIZE:,} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        _steps.reset(token)

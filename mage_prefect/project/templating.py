"""Jinja rendering of what Mage renders: project files, io_config.yaml, SQL block content."""

from __future__ import annotations

import json
import os
from typing import Any

import jinja2


def env_var(name: str, default: Any = None) -> Any:
    """Mage's `env_var`: `os.getenv`, so an unset variable renders as 'None'."""
    return os.getenv(name, default)


def json_value(json_string: str, key_or_path: str) -> Any:
    """Mage's `json_value`: a value from a JSON string by key or dotted path."""
    value: Any = json.loads(json_string) if json_string else {}
    for part in str(key_or_path).split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


TEMPLATE_FUNCTIONS = {"env_var": env_var, "json_value": json_value}


def render(text: str, names: dict[str, Any] | None = None, *, strict: bool = False) -> str:
    """Render text with Mage's no-database template functions plus `names`; `strict` makes an
    unknown name an error (Mage renders SQL block content that way)."""
    undefined = jinja2.StrictUndefined if strict else jinja2.Undefined
    environment = jinja2.Environment(keep_trailing_newline=True, undefined=undefined)
    return environment.from_string(text).render(**TEMPLATE_FUNCTIONS, **(names or {}))

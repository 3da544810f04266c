"""`mage_ai.data_cleaner.transformer_actions.utils`: building an action's payload, as Mage's
transformer templates do, and Mage's column-name cleaning."""

from __future__ import annotations

from keyword import iskeyword
from typing import Any

from ..column_types import REGEX_NUMBER, infer_column_types
from .constants import Axis
from .constants import NameConventionPatterns as Names


def build_action_variables(df, ctypes: dict | None = None, columns: list | None = None) -> dict:
    """Each column (of `columns`, default all) as an action variable with its inferred column type."""
    kinds = infer_column_types(df, column_types=ctypes or {})
    return {
        name: {"feature": {"column_type": kinds[name], "uuid": name}, "type": "feature"}
        for name in (df.columns if columns is None else columns)
    }


def build_transformer_action(
    df,
    action_type: str,
    arguments: Any = (),
    action_code: str = "",
    options: dict | None = None,
    axis: str = Axis.COLUMN,
    outputs: list | None = None,
) -> dict:
    """The payload `BaseAction(...).execute(df)` runs: the action, its columns, code and options."""
    return dict(
        action_type=action_type,
        action_arguments=list(arguments),
        action_code=action_code,
        action_options={} if options is None else options,
        action_variables=build_action_variables(df),
        axis=axis,
        outputs=[] if outputs is None else outputs,
    )


def clean_column_name(name: str) -> str:
    """A column name in snake case, without keywords, punctuation or leading digits (as Mage)."""
    if iskeyword(name):
        name = f"{name}_"
    name = name.strip(" '\"_-")
    name = Names.CONNECTORS.sub("_", name)
    name = Names.NON_ALNUM.sub("", name)
    name = REGEX_NUMBER.sub(lambda number: f"number_{number.group(0)}", name)
    if iskeyword(name):
        name = f"{name}_"
    if Names.UPPERCASE.match(name):
        name = name.lower()
    elif Names.PASCAL.match(name):
        name = "_".join(Names.PASCAL_COMPONENT.findall(name))
    elif Names.CAMEL.match(name):
        name = "_".join(Names.CAMEL_COMPONENT.findall(name) + Names.PASCAL_COMPONENT.findall(name))
    return name.lower()

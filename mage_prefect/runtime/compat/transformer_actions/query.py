"""Mage's filter expressions (`action_code`): `col op value` comparisons rewritten into a pandas
query over prefixed columns, with `== null`, `contains` and column-to-column comparisons."""

from __future__ import annotations

import re
from typing import Any

from .constants import Operator

NAME = r"(?:([^\s()\"']+|['\"][^\"']+['\"]))"
COMPARISON = re.compile(rf"{NAME} ([!=<>]+|(?:contains)|(?:not contains)) {NAME}")
ORIGINAL, TRANSFORMED = "orig_", "tf_"
QUOTES = "\"'"


def _prefixed(name: str, prefix: str) -> str:
    if name[0] in QUOTES:
        return f"`{prefix}{name.strip(QUOTES)}`"
    return f"{prefix}{name}"


def _value_type(df, cache: dict, column: str) -> type:
    """The Python type of the column's first non-null, non-empty value (object if none)."""
    if column not in cache:
        values = df[column].dropna()
        values = values[values.astype(object) != ""]
        cache[column] = type(values.iloc[0]) if len(values.index) >= 1 else object
    return cache[column]


def _null_test(column: str, operator: str, kind: type) -> str:
    name = _prefixed(column, ORIGINAL)
    if operator == "==":
        extra = {bool: f" | {name} == ''", str: f" | {name}.str.len() == 0"}.get(kind, "")
        return f"({name}.isna(){extra})"
    extra = {bool: f" & {name} != ''", str: f" & {name}.str.len() >= 1"}.get(kind, "")
    return f"({name}.notna(){extra})"


def _contains_test(column: str, operator: str, value: str) -> str:
    name = _prefixed(column, TRANSFORMED)
    test = f"({name}.notna() & {name}.str.contains('{value.strip(QUOTES)}'))"
    return test if operator == Operator.CONTAINS else f"~{test}"


def query_with_action_code(df, action_code: str, kwargs: dict[str, Any]):
    """The rows of `df` the expression keeps (null tests read `kwargs['original_df']`)."""
    if action_code == "":
        return df
    transformed_types: dict = {}
    original_types: dict = {}
    original = kwargs.get("original_df")
    queried = df.copy().add_prefix(TRANSFORMED)
    merged, code, end = False, [], 0
    for match in COMPARISON.finditer(action_code):
        column, operator, value = match.groups()
        column = column.strip(QUOTES)
        code.append(action_code[end : match.start()])
        end = match.end()
        if operator in (Operator.CONTAINS, Operator.NOT_CONTAINS):
            kind = _value_type(df, transformed_types, column)
            if kind is not str:
                raise TypeError(f"'{operator}' can only be used on string columns, {kind}")
            code.append(_contains_test(match.group(1), operator, value))
        elif operator in (Operator.EQUALS, Operator.NOT_EQUALS) and value == "null":
            if original is None:
                raise Exception("Null value queries require original dataframe as keyword argument")
            if not merged:
                queried, merged = queried.join(original.add_prefix(ORIGINAL)), True
            code.append(_null_test(match.group(1), operator, _value_type(original, original_types, column)))
        else:
            other = _prefixed(value, TRANSFORMED) if value.strip(QUOTES) in set(df.columns) else value
            code.append(f"{_prefixed(match.group(1), TRANSFORMED)} {operator} {other}")
    code.append(action_code[end:])
    kept = queried.query("".join(code), engine="python")
    return kept.rename(lambda name: name[len(TRANSFORMED) :], axis="columns")[df.columns]

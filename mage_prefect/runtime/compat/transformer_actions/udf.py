"""The functions an `add` action computes its new column with (`options['udf']`), as Mage's
transformer_actions.udf classes compute them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..column_types import ColumnType
from .query import query_with_action_code

EARTH_RADIUS = 6371


def _datetimes(column):
    return pd.to_datetime(column, format="mixed", utc=True)


def _shifted(column, value, options: dict, sign: int):
    """A datetime column moved by `value` time units, as text (Mage's add/subtract of a value)."""
    unit = options.get("time_unit", "d")
    moved = _datetimes(column) + sign * pd.to_timedelta(value, unit="D" if unit == "d" else unit)  # 'd' is old
    return moved.dt.strftime("%Y-%m-%d %H:%M:%S")


def _column_type(df, arguments, options, kwargs):
    return options.get("column_type", kwargs.get("column_types", {}).get(arguments[0]))


def addition(df, arguments, code, options, kwargs):
    result = df[arguments[0]]
    if len(arguments) == 1 and "value" not in options:
        raise Exception("Require second column or a value to add.")
    for name in arguments[1:]:
        result = result + df[name]
    if options.get("value") is not None:
        if _column_type(df, arguments, options, kwargs) == ColumnType.DATETIME:
            return _shifted(result, options["value"], options, 1)
        return result + options["value"]
    return result


def constant(df, arguments, code, options, kwargs):
    return arguments[0]


def date_trunc(df, arguments, code, options, kwargs):
    part, dates = options["date_part"], pd.to_datetime(df[arguments[0]], format="mixed")
    if part == "week":
        return (dates - dates.dt.day_of_week * np.timedelta64(1, "D")).dt.strftime("%Y-%m-%d")
    raise Exception(f"Date part {part} is not supported.")


def difference(df, arguments, code, options, kwargs):
    first = df[arguments[0]]
    is_datetime = _column_type(df, arguments, options, kwargs) == ColumnType.DATETIME
    if len(arguments) > 1:
        second = df[arguments[1]]
        return (_datetimes(first) - _datetimes(second)).dt.days if is_datetime else first - second
    if options.get("value") is not None:
        return _shifted(first, options["value"], options, -1) if is_datetime else first - options["value"]
    raise Exception("Require second column or a value to minus.")


def distance_between(df, arguments, code, options, kwargs):
    lat1, lng1, lat2, lng2 = np.radians([df[name] for name in arguments[:4]])
    a = np.sin((lat2 - lat1) / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2.0) ** 2
    return EARTH_RADIUS * 2 * np.arcsin(np.sqrt(a))


def _arithmetic(name: str, verb: str):
    def compute(df, arguments, code, options, kwargs):
        first = df[arguments[0]]
        if len(arguments) > 1:
            return getattr(first.astype(float), name)(df[arguments[1]].astype(float))
        if options.get("value") is not None:
            return getattr(first, name)(float(options["value"]))
        raise Exception(f"Require second column or a value to {verb}.")

    return compute


divide = _arithmetic("__truediv__", "divide")
multiply = _arithmetic("__mul__", "multiply")


def formatted_date(df, arguments, code, options, kwargs):
    return pd.to_datetime(df[arguments[0]], format="mixed").dt.strftime(options["format"])


def if_else(df, arguments, code, options, kwargs):
    frame = df.copy()
    chosen = query_with_action_code(frame, code, kwargs).index
    first, second = arguments[0], arguments[1]
    if options.get("arg1_type", "value") == "column":
        first = frame[first]
    if options.get("arg2_type", "value") == "column":
        second = frame[second]
    frame.loc[chosen, "result"] = first
    frame["result"] = frame["result"].fillna(second)
    return frame["result"]


def string_replace(df, arguments, code, options, kwargs):
    pattern, replacement = options.get("pattern"), options.get("replacement")
    if not pattern and not replacement:
        raise Exception("Require both `pattern` and `replacement` parameters.")
    return df[arguments[0]].str.replace(pattern, replacement, regex=options.get("regex", True))


def string_split(df, arguments, code, options, kwargs):
    separator, part = options.get("separator"), options.get("part_index")
    if separator is None or part is None:
        raise Exception("Require both `separator` and `part_index` parameters.")
    return df[arguments[0]].str.split(separator).str[part].str.strip()


def substring(df, arguments, code, options, kwargs):
    start, stop = options.get("start"), options.get("stop")
    if start is None and stop is None:
        raise Exception("Require at least one of `start` and `stop` parameters.")
    return df[arguments[0]].str.slice(start=start, stop=stop)


UDFS = {
    compute.__name__: compute
    for compute in (addition, constant, date_trunc, difference, distance_between, formatted_date, if_else)
    + (string_replace, string_split, substring)
} | {"divide": divide, "multiply": multiply}


def execute_udf(name: str, df, arguments, code, options, kwargs) -> Any:
    if name not in UDFS:
        raise ModuleNotFoundError(f"No module named 'mage_ai.data_cleaner.transformer_actions.udf.{name}'")
    return UDFS[name](df, arguments, code, options, kwargs)

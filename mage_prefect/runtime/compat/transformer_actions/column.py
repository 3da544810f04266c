"""The column-axis actions, as Mage 0.9.80's transformer_actions.column runs them (each takes the
frame and the action payload; most change the frame they are given, as Mage's do)."""

from __future__ import annotations

import ast
import logging
import re

import numpy as np
import pandas as pd
from pandas.core.indexes.frozen import FrozenList

from ..column_types import (
    CONSTANT_IMPUTATION_DEFAULTS,
    INVALID_VALUE_PLACEHOLDERS,
    NUMBER_TYPES,
    ColumnType,
    find_syntax_errors,
)
from .constants import CURRENCY_SYMBOLS, ImputationStrategy
from .custom import execute_custom_action
from .outliers import outlier_mask
from .query import query_with_action_code
from .udf import execute_udf
from .utils import clean_column_name

logger = logging.getLogger(__name__)
BLANK = r"^\s*$"


def _blank_as_null(frame):
    return frame.replace(BLANK, np.nan, regex=True).infer_objects()


def drop_na(frame):
    return _blank_as_null(frame).dropna()


def _type_of(name, action) -> str | None:
    """The column type the payload's variables give the column `name`."""
    for variable in action.get("action_variables", {}).values():
        if variable["type"] == "feature" and variable["feature"]["uuid"] == name:
            return variable["feature"]["column_type"]
    return None


class FrozenDict(dict):
    """Mage's FrozenDict: a dict cell that hashes (so list columns can be grouped and counted)."""

    def __hash__(self):
        return hash(tuple((key, str(value)) for key, value in self.items()))


def _frozen(value):
    return FrozenDict(value) if isinstance(value, dict) else value


def _parse_list(value):
    """Mage's parse_list: a list-like cell as a (hashable) FrozenList, a '[a, b]' text parsed
    element by element."""
    if isinstance(value, FrozenList):
        return value
    if isinstance(value, list | set | tuple):
        return FrozenList([_frozen(element) for element in value])
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    if not isinstance(value, str):
        return FrozenList([value])
    if not value or value[0] not in "[(" or value[-1] not in "])":
        return value
    inner = value.strip("[]() ")
    return FrozenList([_parse_element(element) for element in re.split(r"\s*,\s*", inner)] if inner else [])


def _parse_element(element: str):
    if element in ("nan", "np.nan"):
        return np.nan
    try:
        return _frozen(ast.literal_eval(element))
    except (ValueError, SyntaxError):
        return None


def convert_col_type(column, kind):
    if kind == ColumnType.NUMBER:
        return column.replace(BLANK, 0, regex=True).fillna(0).infer_objects().astype(np.int64)
    if kind == ColumnType.NUMBER_WITH_DECIMALS:
        return column.dropna().astype(float)
    if kind == ColumnType.TEXT:
        return column.dropna().astype(str)
    if kind == ColumnType.LIST:
        return column.apply(_parse_list)
    return column


def string_columns(df, columns):
    """The columns whose first non-null value is text (Mage warns of the others and skips them)."""
    for name in columns:
        values = df[name].dropna(axis=0)
        if len(values) == 0:
            continue
        if isinstance(values.iloc[0], str):
            yield name
        else:
            logger.warning(f"Attempted to perform string-only action on non-string column '{name}'")


def add_column(df, action, **kwargs):
    output = action["outputs"][0]
    udf = action["action_options"].get("udf")
    if udf is None or len(action["action_arguments"]) == 0:
        return df
    copy = df.copy()
    copy[output["uuid"]] = execute_udf(
        udf, df, action.get("action_arguments"), action.get("action_code"), action.get("action_options"), kwargs
    )
    copy[output["uuid"]] = convert_col_type(copy[output["uuid"]], output["column_type"])
    return copy


def clean_column_names(df, action, **kwargs):
    return df.rename(columns={name: clean_column_name(name) for name in action["action_arguments"]})


def custom(df, action, **kwargs):
    return execute_custom_action(df, action)


def diff(df, action, **kwargs):
    if len(action["action_arguments"]) == 0:
        return df
    df[action["outputs"][0]["uuid"]] = df[action["action_arguments"][0]].diff()
    return df


def fix_syntax_errors(df, action, **kwargs):
    for name in string_columns(df, action["action_arguments"]):
        kind = action["action_variables"][name]["feature"]["column_type"]
        df.loc[find_syntax_errors(df[name], kind), name] = INVALID_VALUE_PLACEHOLDERS[kind]
    return df


def impute(df, action, **kwargs):
    columns, options = action["action_arguments"], action["action_options"]
    strategy, value = options.get("strategy"), options.get("value")
    df[columns] = _blank_as_null(df[columns])
    kinds = [action["action_variables"][name]["feature"]["column_type"] for name in columns]
    if strategy == ImputationStrategy.AVERAGE:
        df[columns] = df[columns].fillna(df[columns].astype(float).mean(axis=0))
    elif strategy == ImputationStrategy.CONSTANT:
        if value is None:
            value = pd.Series([CONSTANT_IMPUTATION_DEFAULTS[kind] for kind in kinds], index=pd.Index(columns))
        df[columns] = df[columns].fillna(value)
    elif strategy == ImputationStrategy.MEDIAN:
        df[columns] = df[columns].fillna(df[columns].astype(float).median(axis=0))
    elif strategy == ImputationStrategy.MODE:
        _impute_mode(df, columns, kinds)
    elif strategy == ImputationStrategy.COLUMN:
        df[columns] = df[columns].fillna(pd.DataFrame({name: df[value] for name in columns}))
    elif strategy == ImputationStrategy.SEQ:
        df = df.sort_values(by=options.get("timeseries_index"), axis=0)
        df[columns] = df[columns].ffill().infer_objects()
    elif strategy == ImputationStrategy.RANDOM:
        _impute_random(df, columns, kinds)
    elif value is not None:
        df[columns] = df[columns].fillna(value)
    else:
        raise Exception("Require a valid strategy or value")
    for name in columns:
        df[name] = convert_col_type(df[name], _type_of(name, action))
    return df


def _impute_mode(df, columns, kinds):
    if ColumnType.LIST not in kinds:
        df[columns] = df[columns].fillna(df[columns].mode(axis=0).iloc[0])
        return
    for name, kind in zip(columns, kinds):
        mode = df[name].mode().iloc[0]
        if kind == ColumnType.LIST:
            df[name] = df[name].apply(lambda cell, mode=mode: cell if cell not in [None, np.nan] else mode)
        else:  # as Mage: the list column's neighbours all take this column's mode
            df[columns] = df[columns].fillna(mode)


def _impute_random(df, columns, kinds):
    for name, kind in zip(columns, kinds):
        missing, present = df[df[name].isna()].index, df[df[name].notna()].index
        if len(missing) == len(df[name]):
            raise Exception(f"Random impute has no values to sample from in column '{name}'")
        sample = df.loc[present, name].sample(len(missing), replace=True)
        sample.index = missing
        if kind == ColumnType.LIST:
            for index, cell in zip(missing, sample):
                df.at[index, name] = cell
        else:
            df.loc[missing, name] = sample


def normalize(df, action, **kwargs):
    for name in action["action_arguments"]:
        low, high = np.nanmin(df[name], axis=0), np.nanmax(df[name], axis=0)
        df[name] = (df[name] - low) / (high - low)
    return df


def standardize(df, action, **kwargs):
    for name in action["action_arguments"]:
        df[name] = (df[name] - np.mean(df[name], axis=0)) / np.std(df[name], axis=0)
    return df


def reformat(df, action, **kwargs):
    columns, options = action["action_arguments"], action["action_options"]
    how = options["reformat"]
    if how == "caps_standardization":
        for name in string_columns(df, columns):
            upper = options["capitalization"] == "uppercase"
            df[name] = df[name].str.upper() if upper else df[name].str.lower()
        df[columns] = _blank_as_null(df[columns])
    elif how == "currency_to_num":
        for name in string_columns(df, columns):
            text = df[name].replace(CURRENCY_SYMBOLS, "", regex=True).replace(r"\s", "", regex=True)
            df[name] = pd.to_numeric(_blank_as_null(text), errors="coerce").astype(float)
    elif how == "date_format_conversion":
        for name in columns:
            df[name] = pd.to_datetime(_date_text(df[name]), format="mixed", errors="coerce")
    elif how == "trim":
        for name in columns:
            df[name] = df[name].str.strip()
    else:
        df[columns] = _blank_as_null(df[columns])
    return df


def _date_text(column):
    """A column of date texts with Mage's clean-up: one separator between parts, lower case."""
    values = column.dropna(axis=0)
    if len(values) == 0 or type(values.iloc[0]) is not str:
        return column
    column = column.str.replace(r"[\,\s\t]+", " ", regex=False)  # as Mage: a literal, so a no-op
    column = column.str.replace(r"\s*([\/\\\-\.]+)\s*", lambda found: found.group(1)[0], regex=True)
    return column.str.lower()


def remove_column(df, action, **kwargs):
    return df.drop(columns=[name for name in action["action_arguments"] if name in df.columns])


def remove_outliers(df, action, **kwargs):
    numeric = df[list(set(action["action_arguments"]))].copy()
    for name in numeric.columns:
        if action["action_variables"][name]["feature"]["column_type"] in NUMBER_TYPES:
            numeric.loc[:, name] = numeric.loc[:, name].astype(float)
        else:
            numeric = numeric.drop(columns=name)
    complete = numeric.notna().all(axis=1).to_numpy()
    numeric = numeric.dropna(axis=0)
    if numeric.size == 0:
        return df
    outliers = complete.copy()  # the rows with every value, each marked as the method marks it
    outliers[complete] = outlier_mask(numeric.to_numpy(), method=action["action_options"]["method"])
    return df[~outliers]


def select(df, action, **kwargs):
    return df[action["action_arguments"]]


def shift_down(df, action, **kwargs):
    if len(action["action_arguments"]) == 0:
        return df
    options = action.get("action_options", {})
    source, groups, periods = action["action_arguments"][0], options.get("groupby_columns"), options.get("periods", 1)
    shifted = df.groupby(groups)[source] if groups is not None else df[source]
    df[action["outputs"][0]["uuid"]] = shifted.shift(periods)
    return df


def shift_up(df, action, **kwargs):
    if len(action["action_arguments"]) == 0:
        return df
    df[action["outputs"][0]["uuid"]] = df[action["action_arguments"][0]].shift(-1)
    return df


def aggregation(method: str, grouped_only: bool = False):
    """The action computing `method` of its column into its output column: over the whole column,
    or per group of `groupby_columns` (filtered by a time window and `action_code`) merged back."""

    def compute(df, action, **kwargs):
        if len(action["action_arguments"]) == 0:
            return df
        if grouped_only or action["action_options"].get("groupby_columns"):
            return _grouped(df, action, method)
        if method in ("first", "last"):  # pandas 2's Series.agg('first') is Series.first(offset)
            raise TypeError(f"NDFrame.{method}() missing 1 required positional argument: 'offset'")
        df[action["outputs"][0]["uuid"]] = df[action["action_arguments"][0]].agg(method)
        return df

    return compute


def _grouped(df, action, method):
    rows, code, options = _in_time_window(df, action), action.get("action_code"), action["action_options"]
    if code is not None and code != "":
        rows = query_with_action_code(rows, code, {"original_df": rows})
    groups = options["groupby_columns"]
    results = rows.groupby(groups)[action["action_arguments"]].agg(method)
    names = dict(zip(action["action_arguments"], [output["uuid"] for output in action["outputs"]]))
    return df.merge(results.rename(columns=names), on=groups, how="left")


def _in_time_window(df, action):
    """The rows where timestamp_feature_a - window <= timestamp_feature_b <= timestamp_feature_a."""
    options = action["action_options"]
    if not all(key in options for key in ("timestamp_feature_a", "timestamp_feature_b", "window")):
        return df
    window = options["window"]
    seconds = (
        pd.to_datetime(df[options["timestamp_feature_a"]], format="mixed", utc=True)
        - pd.to_datetime(df[options["timestamp_feature_b"]], format="mixed", utc=True)
    ).dt.total_seconds()
    inside = (seconds <= window) & (seconds >= 0) if window > 0 else (seconds >= window) & (seconds <= 0)
    return df.loc[seconds[inside].index]

"""The row-axis actions, as Mage 0.9.80's transformer_actions.row runs them."""

from __future__ import annotations

import pandas as pd

from ..column_types import NUMBER_TYPES
from .custom import execute_custom_action
from .query import query_with_action_code


def custom(df, action, **kwargs):
    return execute_custom_action(df, action)


def drop_duplicates(df, action, **kwargs):
    options = dict(keep=action.get("action_options", {}).get("keep", "last"))
    subset = action.get("action_arguments")
    if subset is not None and len(subset) > 0:
        options["subset"] = subset
    return df.drop_duplicates(**options)


def filter_rows(df, action, **kwargs):
    return query_with_action_code(df, action["action_code"], kwargs)


def sort_rows(df, action, **kwargs):
    """Sorted by the arguments; numeric columns compare as floats, and rows whose first sort column
    is null or empty go first when ascending, last when descending."""
    options = action.get("action_options", {})
    ascendings = options.get("ascendings", [])
    ascending = ascendings[0] if len(ascendings) > 0 else options.get("ascending", True)
    features = {
        variable["feature"]["uuid"]: variable["feature"]
        for variable in (action.get("action_variables") or {}).values()
        if variable.get("feature")
    }
    as_types, unsortable = {}, None
    for position, name in enumerate(action["action_arguments"]):
        feature = features.get(name)
        if isinstance(df[name].dtype, pd.StringDtype):  # pandas 3's text: ties in the order of pandas 2's
            as_types[name] = object
        if feature and feature["column_type"] in NUMBER_TYPES:
            as_types[name] = float
            if position == 0:
                unsortable = df.index.isin(df[(df[name].isnull()) | (df[name].astype(str).str.len() == 0)].index)
    rest = df[~unsortable] if unsortable is not None else df
    order = rest.astype(as_types).sort_values(
        by=action["action_arguments"], ascending=ascendings if len(ascendings) > 0 else ascending
    )
    sorted_rows = df.loc[order.index]
    if unsortable is None:
        return sorted_rows
    parts = [df.iloc[unsortable], sorted_rows]
    return pd.concat(parts if ascending else parts[::-1])


def remove_row(df, action, **kwargs):
    return df.drop([index for index in action["action_options"]["rows"] if index in df.index], axis=0)

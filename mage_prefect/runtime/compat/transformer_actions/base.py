"""`mage_ai.data_cleaner.transformer_actions.base`: BaseAction, which runs an action payload over a
DataFrame as Mage 0.9.80 does (Spark DataFrames are not supported)."""

from __future__ import annotations

import json
import re

import pandas as pd

from . import column, row
from .constants import ActionType, Axis, VariableType

FUNCTION_MAPPING = {
    Axis.COLUMN: {
        ActionType.ADD: column.add_column,
        ActionType.AVERAGE: column.aggregation("mean"),
        ActionType.CLEAN_COLUMN_NAME: column.clean_column_names,
        ActionType.COUNT: column.aggregation("count", grouped_only=True),
        ActionType.COUNT_DISTINCT: column.aggregation("nunique", grouped_only=True),
        ActionType.CUSTOM: column.custom,
        ActionType.DIFF: column.diff,
        ActionType.FIRST: column.aggregation("first"),
        ActionType.FIX_SYNTAX_ERRORS: column.fix_syntax_errors,
        ActionType.IMPUTE: column.impute,
        ActionType.NORMALIZE: column.normalize,
        ActionType.STANDARDIZE: column.standardize,
        ActionType.LAST: column.aggregation("last"),
        ActionType.MAX: column.aggregation("max"),
        ActionType.MEDIAN: column.aggregation("median"),
        ActionType.MIN: column.aggregation("min"),
        ActionType.REFORMAT: column.reformat,
        ActionType.REMOVE: column.remove_column,
        ActionType.REMOVE_OUTLIERS: column.remove_outliers,
        ActionType.SELECT: column.select,
        ActionType.SHIFT_DOWN: column.shift_down,
        ActionType.SHIFT_UP: column.shift_up,
        ActionType.SUM: column.aggregation("sum"),
    },
    Axis.ROW: {
        ActionType.CUSTOM: row.custom,
        ActionType.DROP_DUPLICATE: row.drop_duplicates,
        ActionType.FILTER: row.filter_rows,
        ActionType.SORT: row.sort_rows,
        ActionType.REMOVE: row.remove_row,
    },
}


def interpolate(text, key: str, variable: dict) -> str:
    """`text` with each `%{key}` replaced by the variable's column (or feature set) name."""
    replacement = key
    if variable["type"] == VariableType.FEATURE:
        replacement = variable[VariableType.FEATURE]["uuid"]
    elif variable["type"] == VariableType.FEATURE_SET_VERSION:
        replacement = variable[VariableType.FEATURE_SET_VERSION][VariableType.FEATURE_SET]["uuid"]
    return re.sub(re.compile(r"\%\{" + key + r"\}"), replacement, str(text))


def replace_true_false(code: str) -> str:
    return re.sub(" true", " True", re.sub(" false", " False", code))


class BaseAction:
    def __init__(self, action: dict):
        self.action = action
        self.columns_by_type: dict[str, list] = {}
        for variable in self.action.get("action_variables", {}).values():
            feature = (variable or {}).get(VariableType.FEATURE)
            if feature:
                self.columns_by_type.setdefault(feature.get("column_type"), []).append(feature["uuid"])

    @property
    def action_type(self):
        return self.action["action_type"]

    @property
    def axis(self):
        return self.action["axis"]

    def execute(self, df, **kwargs):
        """The frame the action makes of `df` (an empty frame is returned as it is)."""
        if type(df).__module__ == "pyspark.sql.dataframe":
            raise RuntimeError("Spark is not supported in current environment")
        self.hydrate_action()
        if self.action.get("action_code"):
            self.action["action_code"] = replace_true_false(self.action["action_code"])
        if df.empty:
            return df
        transformed = df.copy() if self.action_type in (ActionType.FILTER, ActionType.ADD) else df
        if self.action_type == ActionType.GROUP:
            return self.groupby(df, self.action)
        if self.action_type == ActionType.JOIN:
            return self.join(df, kwargs.get("df_to_join"), self.action)
        column_types = {name: kind for kind, names in self.columns_by_type.items() for name in names}
        output = FUNCTION_MAPPING[self.axis][self.action_type](
            transformed, self.action, column_types=column_types, original_df=df
        )
        if self.action_type == ActionType.FILTER:
            return df.loc[output.index][output.columns]
        if self.action_type == ActionType.ADD:
            names = [feature["uuid"] for feature in self.action["outputs"]]
            df[names] = output[names]
            return df
        return output

    def groupby(self, df, action):
        """Each group of the argument columns through the child actions, keyed by group (pandas'
        groupby-apply with the grouping columns kept in each group, as Mage's pandas did)."""

        def transformed(group):
            for child in action["child_actions"]:
                group = BaseAction(child).execute(group)
            return group

        groups = df.groupby(action["action_arguments"])
        parts = {key: transformed(group) for key, group in groups}
        if not parts:  # every key null: pandas' apply gives an empty frame indexed by the keys
            keys = list(groups.keys)
            empty = (
                pd.Index([], dtype=object, name=keys[0])
                if len(keys) == 1
                else pd.MultiIndex.from_tuples([], names=keys)
            )
            return df.iloc[:0].set_axis(empty, axis=0)
        return pd.concat(parts, names=groups.keys)

    def hydrate_action(self):
        """The payload's `%{variable}` references in code, arguments and options made column names."""
        for key, variable in self.action["action_variables"].items():
            if not variable:
                continue
            if self.action.get("action_code"):
                self.action["action_code"] = interpolate(self.action["action_code"], key, variable)
            if self.action.get("action_arguments"):
                arguments = self.action["action_arguments"]
                self.action["action_arguments"] = [interpolate(text, key, variable) for text in arguments]
            if self.action.get("action_options"):
                options = json.dumps(self.action["action_options"])
                self.action["action_options"] = json.loads(interpolate(options, key, variable))

    def join(self, df, df_to_join, action):
        options = action["action_options"]
        left_on, right_on = options["left_on"], options["right_on"]
        for left, right in zip(left_on, right_on):
            if df[left].dtype != df_to_join[right].dtype:
                df[left] = column.drop_na(df[left]).astype(str)
                df_to_join[right] = column.drop_na(df_to_join[right]).astype(str)
        if action.get("outputs") is not None:
            renamed = {
                feature["source_feature"]["uuid"]: feature["uuid"]
                for feature in action["outputs"]
                if feature.get("source_feature") is not None
            }
            df_to_join = df_to_join.rename(columns=renamed)
            right_on = [renamed.get(key, key) for key in right_on]
        merged = df.merge(df_to_join, left_on=left_on, right_on=right_on, how=options.get("how", "left"))
        return merged.drop(columns=options.get("drop_columns", [])).rename(columns=options.get("rename_columns", {}))

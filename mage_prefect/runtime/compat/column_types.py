"""`mage_ai.data_cleaner.column_types`: Mage's column type inference (a compatible subset)."""

from __future__ import annotations

import re
from enum import Enum

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ColumnType(str, Enum):
    CATEGORY = "category"
    CATEGORY_HIGH_CARDINALITY = "category_high_cardinality"
    DATETIME = "datetime"
    EMAIL = "email"
    LIST = "list"
    NUMBER = "number"
    NUMBER_WITH_DECIMALS = "number_with_decimals"
    TEXT = "text"
    TRUE_OR_FALSE = "true_or_false"


def infer_column_types(df, **kwargs) -> dict[str, ColumnType]:
    """A ColumnType per column, from its dtype and values (as Mage's column_type_detector)."""
    from pandas.api import types

    result = {}
    for column in df.columns:
        series = df[column].dropna()
        if types.is_bool_dtype(series) or (
            len(series) and set(series.unique()) <= {0, 1, "true", "false"} and series.nunique() == 2
        ):
            kind = ColumnType.TRUE_OR_FALSE
        elif types.is_datetime64_any_dtype(series):
            kind = ColumnType.DATETIME
        elif types.is_integer_dtype(series):
            kind = ColumnType.NUMBER
        elif types.is_float_dtype(series):
            kind = ColumnType.NUMBER_WITH_DECIMALS if (series % 1 != 0).any() else ColumnType.NUMBER
        elif len(series) and series.map(lambda v: isinstance(v, (list, tuple))).all():
            kind = ColumnType.LIST
        elif len(series) and series.astype(str).str.match(EMAIL).all():
            kind = ColumnType.EMAIL
        elif series.nunique() <= max(2, int(0.2 * len(series))):
            kind = ColumnType.CATEGORY if series.nunique() <= 255 else ColumnType.CATEGORY_HIGH_CARDINALITY
        else:
            kind = ColumnType.TEXT
        result[column] = kind
    return result

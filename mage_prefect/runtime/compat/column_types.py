"""`mage_ai.data_cleaner.column_types`: Mage's column type inference and syntax checks, as in Mage
0.9.80's column_type_detector (pandas 3's `str` columns are read as Mage reads object columns)."""

from __future__ import annotations

import re
from enum import StrEnum

import numpy as np
import pandas as pd
from pandas.api import types

DATETIME_MATCHES_THRESHOLD = 0.5
MAXIMUM_WORD_LENGTH_FOR_CATEGORY_FEATURES = 40
MAX_ROWS_FOR_COLUMN_TYPE_INFERENCE = 100_000
NUMBER_TYPE_MATCHES_THRESHOLD = 0.8
STRING_TYPE_MATCHES_THRESHOLD = 0.3
_CURRENCY = r"(?:[$€¥₹£]|Rs|CAD){0,1}"
_DIGITS = r"(?:[0-9]+(?:,[0-9]+)*|[0-9]+){0,1}"
_MONTH = (
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:tember)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
REGEX_DATETIME = re.compile(
    r"^\d{2,4}-\d{1,2}-\d{1,2}$|^\d{2,4}-\d{1,2}-\d{1,2}[Tt ]{1}\d{1,2}:\d{1,2}[:]{0,1}\d{1,2}[\.]{0,1}\d*"
    r"|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$|^\d{1,4}[-\/]{1}\d{1,2}[-\/]{1}\d{1,2}$"
    r"|^\d{1,2}[-\/]{1}\d{1,2}[-\/]{1}\d{1,4}$"
    r"|^\d{1,2}[-\/]\d{1,2}[-\/]\d{2,4}[Tt ]{1}\d{1,2}:\d{1,2}[:]{0,1}\d{1,2}[\.]{0,1}\d*"
    rf"|({_MONTH})\s+(\d{{1,2}})[\s,]+(\d{{2,4}})"
)
REGEX_EMAIL = re.compile(r"^[a-zA-Z0-9_.+#-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$")
REGEX_INTEGER = re.compile(
    rf"^\-{{0,1}}\s*(?:{_CURRENCY}\s*{_DIGITS}(?:\.0*)?|{_DIGITS}(?:\.0*)?\s*(?:[元€$]|CAD){{0,1}})$"
)
REGEX_LIST = re.compile(r"^[\[(](?:[^\n\r],?)*[\])]$")
REGEX_NUMBER = re.compile(
    rf"^\-{{0,1}}\s*(?:{_CURRENCY}\s*{_DIGITS}(?:\.[0-9]*){{0,1}}|{_DIGITS}(?:\.[0-9]*){{0,1}}\s*(?:[元€$]|CAD){{0,1}})\s*\%{{0,1}}$"
)
REGEX_PHONE_NUMBER = re.compile(r"^\s*(?:\+?(\d{1,3}))?[-. (]*(\d{3})[-. )]*(\d{3})[-. ]*(\d{4})(?: *x(\d+))?\s*$")
REGEX_ZIP_CODE = re.compile(r"^\d{3,5}(?:[-\s]\d{4})?$")
RESERVED_PHONE_NUMBER_WORDS = frozenset(["phone", "landline"])
RESERVED_ZIP_CODE_WORDS = frozenset(["zip", "postal", "zipcode", "postcode"])


class ColumnType(StrEnum):
    CATEGORY = "category"
    CATEGORY_HIGH_CARDINALITY = "category_high_cardinality"
    DATETIME = "datetime"
    EMAIL = "email"
    LIST = "list"
    NUMBER = "number"
    NUMBER_WITH_DECIMALS = "number_with_decimals"
    PHONE_NUMBER = "phone_number"
    TEXT = "text"
    TRUE_OR_FALSE = "true_or_false"
    ZIP_CODE = "zip_code"


CATEGORICAL_TYPES = frozenset([ColumnType.CATEGORY, ColumnType.CATEGORY_HIGH_CARDINALITY, ColumnType.TRUE_OR_FALSE])
NUMBER_TYPES = frozenset([ColumnType.NUMBER, ColumnType.NUMBER_WITH_DECIMALS])
STRING_TYPES = frozenset([ColumnType.EMAIL, ColumnType.PHONE_NUMBER, ColumnType.TEXT, ColumnType.ZIP_CODE])
_TEXTUAL = {kind: "missing" for kind in ColumnType if kind not in NUMBER_TYPES | {ColumnType.DATETIME}}
CONSTANT_IMPUTATION_DEFAULTS = {
    **_TEXTUAL,
    ColumnType.DATETIME: pd.Timestamp.min,
    ColumnType.LIST: "[]",
    ColumnType.NUMBER: 0,
    ColumnType.NUMBER_WITH_DECIMALS: 0,
}
INVALID_VALUE_PLACEHOLDERS = {
    **{kind: "invalid" for kind in _TEXTUAL},
    ColumnType.DATETIME: pd.NaT,
    ColumnType.NUMBER: np.nan,
    ColumnType.NUMBER_WITH_DECIMALS: np.nan,
}


def _mentions(name: str, words: frozenset[str]) -> bool:
    return any(word in name.lower() for word in words)


def _is_text(dtype) -> bool:
    """Mage's `dtype == 'object'`: under pandas 3 text columns have the `str` dtype instead."""
    return dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)


def find_syntax_errors(series: pd.Series, column_type: ColumnType) -> pd.Series:
    """A mask of the values that do not read as `column_type` (invalid placeholders and nulls pass)."""
    if len(series) == 0:
        return pd.Series([])
    text, pattern, known_values = series, None, False
    if column_type in (ColumnType.EMAIL, ColumnType.PHONE_NUMBER, ColumnType.ZIP_CODE):
        text = series if column_type == ColumnType.EMAIL else series.astype(str)
        pattern = {ColumnType.EMAIL: REGEX_EMAIL, ColumnType.PHONE_NUMBER: REGEX_PHONE_NUMBER}.get(
            column_type, REGEX_ZIP_CODE
        )
        known_values = True
    elif column_type in NUMBER_TYPES and not (
        types.is_integer_dtype(series.dtype) or types.is_float_dtype(series.dtype)
    ):
        text, pattern = series.astype(str), REGEX_NUMBER
    elif column_type == ColumnType.DATETIME and not types.is_datetime64_any_dtype(series.dtype):
        text, pattern = series.astype(str), REGEX_DATETIME
    mask = pd.Series([False] * len(series), index=series.index)
    if pattern is not None:
        mask |= ~text.str.match(pattern, na=True)
        if known_values:
            mask &= ~text.str.match(INVALID_VALUE_PLACEHOLDERS[column_type], na=True)
            mask &= ~text.str.match(CONSTANT_IMPUTATION_DEFAULTS[column_type], na=True)
    return mask & series.notna()


def _number_type(series: pd.Series, name: str, dtype) -> ColumnType:
    clean = series.dropna()
    if len(clean) == 0:
        return ColumnType.NUMBER_WITH_DECIMALS
    whole = np.floor(clean) == clean
    if ((clean >= 1e9) & (clean < 1e12) & whole).sum() / len(clean) >= NUMBER_TYPE_MATCHES_THRESHOLD and (
        "phone" in name.lower()
    ):
        return ColumnType.PHONE_NUMBER
    if types.is_integer_dtype(dtype):
        if clean.min() >= 100 and clean.max() <= 99999 and _mentions(name, RESERVED_ZIP_CODE_WORDS):
            return ColumnType.ZIP_CODE
        return ColumnType.NUMBER
    return ColumnType.NUMBER if all(whole) else ColumnType.NUMBER_WITH_DECIMALS


def infer_column_type(series: pd.Series, name: str, dtype, kwargs: dict) -> ColumnType | None:
    kind = None
    if "datetime64" in str(dtype):
        kind = ColumnType.DATETIME
    elif _is_text(dtype):
        kind = _object_type(series, name, kwargs)
    elif types.is_bool_dtype(dtype):
        kind = ColumnType.TRUE_OR_FALSE
    elif types.is_numeric_dtype(dtype):
        kind = _number_type(series, name, dtype)
    if kind in NUMBER_TYPES and series.nunique(dropna=False) == 2:
        kind = ColumnType.TRUE_OR_FALSE
    return kind


def _object_type(series: pd.Series, name: str, kwargs: dict) -> ColumnType:
    clean = series.astype(object).map(lambda x: x.strip(" '\"") if type(x) is str else x)
    clean = clean.map(lambda x: np.nan if isinstance(x, str) and x == "" else x).dropna()
    exact = type(clean.iloc[0]) if clean.count() else None
    if exact in (list, tuple, set):
        return ColumnType.LIST
    distinct = clean.nunique()
    if exact is not None and issubclass(exact, (bool, np.bool_)):
        return ColumnType.TRUE_OR_FALSE if distinct <= 2 else ColumnType.CATEGORY
    if distinct <= 2:
        return ColumnType.TRUE_OR_FALSE
    clean = clean.astype(str)
    if all(clean.str.match(REGEX_NUMBER)):
        return _numeric_text_type(clean, name, distinct, kwargs)
    return _text_type(clean, name, series.nunique(dropna=False), distinct, kwargs)


def _numeric_text_type(clean: pd.Series, name: str, distinct: int, kwargs: dict) -> ColumnType:
    if not all(clean.str.match(REGEX_INTEGER)):
        return ColumnType.NUMBER_WITH_DECIMALS
    share = len(clean)
    if clean.str.match(REGEX_PHONE_NUMBER).sum() / share >= NUMBER_TYPE_MATCHES_THRESHOLD and _mentions(
        name, RESERVED_PHONE_NUMBER_WORDS
    ):
        return ColumnType.PHONE_NUMBER
    if clean.str.match(REGEX_ZIP_CODE).sum() / share >= NUMBER_TYPE_MATCHES_THRESHOLD and _mentions(
        name, RESERVED_ZIP_CODE_WORDS
    ):
        return ColumnType.ZIP_CODE
    try:
        clean.str.replace(r"\.0*", "", regex=True).astype(np.int64)
        return ColumnType.NUMBER
    except OverflowError:
        return _category(distinct, kwargs)


def _text_type(clean: pd.Series, name: str, distinct_with_null: int, distinct: int, kwargs: dict) -> ColumnType:
    share = len(clean)

    def matching(pattern: re.Pattern) -> float:
        return clean.str.match(pattern).sum() / share

    if matching(REGEX_DATETIME) >= DATETIME_MATCHES_THRESHOLD:
        return ColumnType.DATETIME
    if matching(REGEX_EMAIL) >= STRING_TYPE_MATCHES_THRESHOLD:
        return ColumnType.EMAIL
    if matching(REGEX_PHONE_NUMBER) >= STRING_TYPE_MATCHES_THRESHOLD and _mentions(name, RESERVED_PHONE_NUMBER_WORDS):
        return ColumnType.PHONE_NUMBER
    if matching(REGEX_ZIP_CODE) >= STRING_TYPE_MATCHES_THRESHOLD and _mentions(name, RESERVED_ZIP_CODE_WORDS):
        return ColumnType.ZIP_CODE
    if matching(REGEX_LIST) >= STRING_TYPE_MATCHES_THRESHOLD:
        return ColumnType.LIST
    if distinct_with_null == 2:
        return ColumnType.TRUE_OR_FALSE
    if distinct / share >= 0.8:
        return ColumnType.TEXT
    if clean.map(lambda x: len(str(x).split(" "))).max() > MAXIMUM_WORD_LENGTH_FOR_CATEGORY_FEATURES:
        return ColumnType.TEXT
    return _category(distinct, kwargs)


def _category(distinct: int, kwargs: dict) -> ColumnType:
    if distinct <= kwargs.get("category_cardinality_threshold", 255):
        return ColumnType.CATEGORY
    return ColumnType.CATEGORY_HIGH_CARDINALITY


def infer_column_types(df: pd.DataFrame, **kwargs) -> dict[str, ColumnType]:
    """A ColumnType per column (those in `column_types=` as given), inferred from a sample of at
    most 100,000 rows as Mage does."""
    given = kwargs.get("column_types", {})
    columns = df.columns.tolist()
    result = {name: kind for name, kind in given.items() if name in columns}
    sample = df.sample(MAX_ROWS_FOR_COLUMN_TYPE_INFERENCE) if len(df) > MAX_ROWS_FOR_COLUMN_TYPE_INFERENCE else df
    for name in (name for name in columns if name not in given):
        result[name] = infer_column_type(sample[name], name, sample.dtypes[name], kwargs)
    return result

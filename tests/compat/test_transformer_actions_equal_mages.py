"""Mage's transformer actions, through our shim, do what Mage 0.9.80's do: every action type of
Mage's FUNCTION_MAPPING (both axes, every udf of the add action, every imputation strategy and
reformat), plus the group and join actions that BaseAction.execute reaches, built with
build_transformer_action on the same frames, give the same DataFrame (values, index and column
order), the same inferred column types, or the same exception (type and message)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.compat.conftest import comparable, mage

MAGES_PANDAS = "2"  # mage-ai 0.9.80 requires pandas<3

# --------------------------------------------------------------------------------------------
# The frames: written to parquet once, read back by Mage (pandas 2) and by us.
# --------------------------------------------------------------------------------------------
NAMES = [
    "Alice", " bob ", "CAROL", "dave smith", "", "  ", None, "Eve-Marie",
    "frank", "Grace Hopper", "heidi", "IVAN", "judy ", "Mallory", "niaj", "Olivia",
]  # fmt: skip
PRICES = [
    "$1,200.50", "€30", "1,200", " $5.00 ", "'7.25'", "", None, "12%",
    "£0.99", "$15", "CAD 20.5", "-3.5", "1.5", "Rs 100", "88", "$2,000",
]  # fmt: skip
SIGNUPS = [
    "2024-01-05", "01/07/2024", "Jan 8, 2024", "2024 - 02 - 03", None, "not a date",
    "2024-03-01 10:30:00", "March 3 2024", "2024.04.05", "", "5/6/24", "2024-13-45",
]  # fmt: skip
SCORE_OUTLIERS = {5: 500.0, 17: -300.0, 29: 900.0, 41: 450.0}


def _row(i: int) -> dict:
    """Row i of the main frame: deterministic, every kind of value the actions treat specially."""
    created = pd.NaT if i % 11 == 3 else pd.Timestamp("2024-01-01 08:00") + pd.Timedelta(days=3 * i, hours=i % 5)
    email = f"user{i}@example.com"
    email = "not-an-email" if i % 7 == 3 else None if i % 13 == 5 else "missing" if i % 17 == 8 else email
    return {
        "id": i + 1,
        "plan": None if i == 20 else ["basic", "pro", "team", "basic", "pro", "basic"][i % 6],
        "qty": (i * 7) % 11,  # 0 too: a division by zero
        "amount": np.nan if i % 9 == 4 else round(((i * 37) % 101) / 3.0, 2),
        "visits": np.nan if i % 10 == 7 else float((i * 3) % 8),  # whole floats and NaN: Mage's "number"
        "score": SCORE_OUTLIERS.get(i, 50 + (i * 13) % 17 - 8 + (i % 5) * 0.5),
        "price": PRICES[i % len(PRICES)],
        "name": NAMES[i % len(NAMES)],
        "email": email,
        "signup": SIGNUPS[i % len(SIGNUPS)],
        "created_at": created,
        "updated_at": created + pd.Timedelta(days=i % 4, minutes=90),
        "active": i % 3 == 0,
        "verified": [True, False, None][i % 3],  # parquet's nullable bool: object of True/False/None
        "lat1": 40 + (i % 7) * 0.5,
        "lng1": -74 + (i % 5) * 0.3,
        "lat2": 34 + (i % 6) * 0.4,
        "lng2": -118 + (i % 4) * 0.7,
    }


def _main_frame() -> pd.DataFrame:
    """48 rows; the last 4 repeat rows 2-5 exactly (duplicates), score has 5 outliers."""
    return pd.DataFrame([_row(i) for i in range(44)] + [_row(i) for i in range(2, 6)])


FRAMES = {
    "frame": _main_frame(),
    "names": pd.DataFrame(
        {
            "Customer ID": [1, 2, 3, 4, 5, 6],
            "camelCase": ["a", "b", "c", "d", "e", "f"],
            "PascalCase": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5],
            "UPPER": ["x", "y", "x", "y", "x", "z"],
            "HTTPServer": [10, 20, 30, 40, 50, 60],
            "class": ["p", "q", "r", "s", "t", "u"],
            "2nd place": [6, 5, 4, 3, 2, 1],
            " _padded- ": [0, 1, 0, 1, 0, 2],
            "with.dots-and dashes": ["m", "n", "o", "p", "q", "r"],
            "$pecial%": [1, 1, 2, 2, 3, 3],
            "123": [7, 8, 9, 7, 8, 9],
            "already_snake": [True, False, True, False, True, False],
        }
    ),
    "right": pd.DataFrame(
        {
            "plan_key": ["basic", "pro", "team", "enterprise"],
            "seats": [1, 5, 20, 100],
            "code": ["0", "1", "2", "3"],
        }
    ),
}
FRAMES["empty"] = FRAMES["frame"].iloc[:0]
COLUMNS = list(FRAMES["frame"].columns)
NUMBER_COLUMNS = ["id", "qty", "amount", "visits", "score", "lat1", "lng1", "lat2", "lng2"]


# --------------------------------------------------------------------------------------------
# The cases: `build` is build_transformer_action's keyword arguments, action_type, axis and an
# impute strategy passed as Mage's enums as its templates do (as plain strings with `strings`).
# `raises`: Mage raises (we must raise the same); `noop`: Mage returns the input unchanged, on
# purpose; `random`: the impute strategy samples at random, and `set_order`: Mage's result
# depends on the order of a set of column names, i.e. on PYTHONHASHSEED (for both, only what is
# deterministic is compared).
# --------------------------------------------------------------------------------------------
def _case(id_: str, action_type: str, arguments=(), axis: str = "column", **kw) -> dict:
    """One case; code/options/outputs go to `build`, anything else (frame, join, ...) to the case."""
    build = dict(action_type=action_type, arguments=list(arguments), axis=axis)
    for key, name in (("code", "action_code"), ("options", "options"), ("outputs", "outputs")):
        if key in kw:
            build[name] = kw.pop(key)
    return dict(id=id_, build=build, **kw)


def _out(*uuids: str, column_type: str = "number_with_decimals") -> list[dict]:
    return [{"uuid": uuid, "column_type": column_type} for uuid in uuids]


def _add(id_: str, udf: str, arguments, outputs: list[dict], code: str = "", raises=False, **options) -> dict:
    return _case(id_, "add", arguments, code=code, options={"udf": udf, **options}, outputs=outputs, raises=raises)


ADD_CASES = [
    _add("add_addition_columns", "addition", ["qty", "amount"], _out("total")),
    _add("add_addition_value", "addition", ["amount"], _out("plus_ten"), value=10),
    _add("add_addition_value_number_output", "addition", ["visits"], _out("v", column_type="number"), value=1),
    _add("add_addition_datetime_days", "addition", ["created_at"], _out("later", column_type="text"), value=2),
    _add(
        "add_addition_datetime_hours", "addition", ["created_at"], _out("t", column_type="text"), value=5, time_unit="h"
    ),
    _add("add_addition_datetime_as_decimals", "addition", ["created_at"], _out("t"), value=5, raises=True),
    _add("add_addition_three_columns", "addition", ["qty", "amount", "score"], _out("sum3")),
    _add("add_addition_needs_a_value", "addition", ["qty"], _out("x"), raises=True),
    _add("add_constant_number", "constant", [10], _out("ten", column_type="number")),
    _add("add_constant_category", "constant", ["gold"], _out("tier", column_type="category")),
    _add("add_date_trunc_week", "date_trunc", ["created_at"], _out("week", column_type="datetime"), date_part="week"),
    _add("add_date_trunc_month", "date_trunc", ["created_at"], _out("m"), date_part="month", raises=True),
    _add("add_difference_columns", "difference", ["score", "amount"], _out("gap")),
    _add("add_difference_value", "difference", ["qty"], _out("less", column_type="number"), value=3),
    _add("add_difference_datetime_columns", "difference", ["updated_at", "created_at"], _out("days")),
    _add("add_difference_datetime_value", "difference", ["created_at"], _out("earlier", column_type="text"), value=1),
    _add("add_difference_needs_a_value", "difference", ["qty"], _out("x"), raises=True),
    _add("add_distance_between", "distance_between", ["lat1", "lng1", "lat2", "lng2"], _out("km")),
    _add("add_divide_columns", "divide", ["amount", "qty"], _out("per_unit")),
    _add("add_divide_value", "divide", ["qty"], _out("quarter"), value=4),
    _add("add_divide_needs_a_value", "divide", ["qty"], _out("x"), raises=True),
    _add("add_formatted_date", "formatted_date", ["created_at"], _out("month", column_type="text"), format="%Y-%m"),
    _add(
        "add_formatted_date_strings",
        "formatted_date",
        ["updated_at"],
        _out("day", column_type="category"),
        format="%d/%m/%Y %H:%M",
    ),
    _add("add_if_else_values", "if_else", ["big", "small"], _out("size", column_type="category"), code="qty > 5"),
    _add(
        "add_if_else_columns",
        "if_else",
        ["amount", "score"],
        _out("pick"),
        code="active == true and qty >= 2",
        arg1_type="column",
        arg2_type="column",
    ),
    _add(
        "add_if_else_null",
        "if_else",
        ["none", "some"],
        _out("has_amount", column_type="category"),
        code="amount == null",
    ),
    _add("add_multiply_columns", "multiply", ["qty", "amount"], _out("revenue")),
    _add("add_multiply_value", "multiply", ["amount"], _out("scaled"), value=1.5),
    _add("add_multiply_needs_a_value", "multiply", ["qty"], _out("x"), raises=True),
    _add(
        "add_string_replace_regex",
        "string_replace",
        ["name"],
        _out("n", column_type="text"),
        pattern=r"\s+",
        replacement="_",
    ),
    _add(
        "add_string_replace_literal",
        "string_replace",
        ["price"],
        _out("p", column_type="text"),
        pattern="$",
        replacement="USD ",
        regex=False,
    ),
    _add("add_string_replace_needs_pattern", "string_replace", ["name"], _out("x"), raises=True),
    _add(
        "add_string_split",
        "string_split",
        ["email"],
        _out("domain", column_type="category"),
        separator="@",
        part_index=1,
    ),
    _add(
        "add_string_split_first",
        "string_split",
        ["name"],
        _out("first", column_type="text"),
        separator=" ",
        part_index=0,
    ),
    _add("add_string_split_needs_separator", "string_split", ["name"], _out("x"), part_index=0, raises=True),
    _add("add_substring", "substring", ["name"], _out("short", column_type="text"), start=0, stop=3),
    _add("add_substring_stop_only", "substring", ["email"], _out("head", column_type="text"), stop=5),
    _add("add_substring_needs_bounds", "substring", ["name"], _out("x"), raises=True),
]


def _agg_cases(action_type: str, column: str = "amount") -> list[dict]:
    """An aggregation without groupby (one value, every row), grouped, grouped over two columns
    with a filter first, and over a time window."""
    grouped = {"groupby_columns": ["plan"]}
    window = {"timestamp_feature_a": "updated_at", "timestamp_feature_b": "created_at", "window": 172800}
    cases = [
        _case(f"{action_type}_grouped", action_type, [column], options=grouped, outputs=_out(f"{action_type}_x")),
        _case(
            f"{action_type}_grouped_two_columns_with_filter",
            action_type,
            [column, "visits"],
            code="qty > 2",
            options={"groupby_columns": ["plan", "active"]},
            outputs=_out("c1", "c2"),
        ),
        _case(
            f"{action_type}_grouped_time_window",
            action_type,
            [column],
            options={**grouped, **window},
            outputs=_out(f"{action_type}_2d"),
        ),
    ]
    if action_type in ("count", "count_distinct"):  # Mage reads options['groupby_columns'] for these
        return cases + [_case(f"{action_type}_without_groupby", action_type, [column], outputs=_out("n"), raises=True)]
    # Series.agg('first') is NDFrame.first(offset) under pandas 2: Mage raises a TypeError
    raises = action_type in ("first", "last")
    return cases + [_case(action_type, action_type, [column], outputs=_out(f"{action_type}_all"), raises=raises)]


AGGREGATION_CASES = [
    case
    for action_type, column in (
        ("average", "amount"),
        ("count", "name"),
        ("count_distinct", "name"),
        ("first", "score"),
        ("last", "email"),
        ("max", "created_at"),
        ("median", "amount"),
        ("min", "score"),
        ("sum", "qty"),
    )
    for case in _agg_cases(action_type, column)
]


def _impute(id_: str, arguments, raises=False, **options) -> dict:
    return _case(f"impute_{id_}", "impute", arguments, options=options, raises=raises)


IMPUTE_CASES = [
    _impute("average", ["amount", "visits"], strategy="average"),
    _impute("median", ["amount", "visits"], strategy="median"),
    _impute("mode", ["plan", "name", "visits"], strategy="mode"),
    _impute("constant_value", ["amount"], strategy="constant", value=-1),
    _impute("constant_text_value", ["name", "email"], strategy="constant", value="unknown"),
    _impute("constant_defaults", ["amount", "visits", "name", "email", "created_at", "plan"], strategy="constant"),
    _impute("column", ["amount"], strategy="column", value="score"),
    _impute("sequential", ["amount", "name"], strategy="sequential", timeseries_index=["updated_at"]),
    _impute("value_without_strategy", ["amount", "visits"], value=0),
    _impute("text_value_without_strategy", ["name", "signup"], value="?"),
    _impute("no_action_with_value", ["amount"], strategy="no_action", value=7),
    _impute("no_action", ["amount"], strategy="no_action", raises=True),
    _impute("remove_rows", ["amount"], strategy="remove_rows", raises=True),
    _impute("without_strategy_or_value", ["amount"], raises=True),
    {**_impute("random", ["amount", "name", "email"], strategy="random"), "random": True},
]


def _reformat(id_: str, arguments, raises=False, noop=False, **options) -> dict:
    return _case(f"reformat_{id_}", "reformat", arguments, options=options, raises=raises, noop=noop)


REFORMAT_CASES = [
    _reformat("uppercase", ["name", "qty"], reformat="caps_standardization", capitalization="uppercase"),
    _reformat("lowercase", ["name", "plan"], reformat="caps_standardization", capitalization="lowercase"),
    _reformat("currency_to_num", ["price", "amount"], reformat="currency_to_num"),
    _reformat("date_format_conversion", ["signup", "created_at"], reformat="date_format_conversion"),
    _reformat("trim", ["name"], reformat="trim"),
    _reformat("trim_not_a_string", ["qty"], reformat="trim", raises="pandas"),
    _reformat("none", ["name", "price"], reformat=None),  # the template's default: blanks become NaN
    _reformat("other", ["name"], reformat="title_case"),
]

COLUMN_CASES = [
    *ADD_CASES,
    *AGGREGATION_CASES,
    *IMPUTE_CASES,
    *REFORMAT_CASES,
    _case("clean_column_name", "clean_column_name", list(FRAMES["names"].columns), frame="names"),
    _case("clean_column_name_some", "clean_column_name", ["camelCase", "class"], frame="names"),
    _case("custom_script", "custom", code="df['total'] = df['qty'] * df['amount']\ndf['flag'] = true"),
    _case("custom_decorated", "custom", code="@transformer_action\ndef f(df):\n\treturn df[['id', 'qty']] * 2"),
    _case("diff", "diff", ["score"], outputs=_out("score_diff")),
    _case("diff_int", "diff", ["qty"], outputs=_out("qty_diff", column_type="number")),
    _case("fix_syntax_errors", "fix_syntax_errors", COLUMNS),
    _case("fix_syntax_errors_email", "fix_syntax_errors", ["email"]),
    _case("normalize", "normalize", ["amount", "score", "qty"]),
    _case("standardize", "standardize", ["amount", "score", "qty"]),
    _case("remove", "remove", ["qty", "not_a_column", "email"]),
    _case("remove_outliers_lof", "remove_outliers", ["score"], options={"method": "lof"}),
    _case("remove_outliers_itree", "remove_outliers", ["score"], options={"method": "itree"}),
    _case("remove_outliers_auto", "remove_outliers", ["score"], options={"method": "auto"}),
    _case("remove_outliers_two_columns", "remove_outliers", ["score", "amount"], options={"method": "lof"}),
    _case("remove_outliers_itree_two_columns", "remove_outliers", ["score", "amount"], options={"method": "itree"}),
    # auto picks itree (> 5 columns), which Mage feeds the columns of set(arguments): in hash order
    _case(
        "remove_outliers_number_columns", "remove_outliers", NUMBER_COLUMNS, options={"method": "auto"}, set_order=True
    ),
    # price is a "number_with_decimals" (currency strings): Mage casts it to float
    _case("remove_outliers_all_columns", "remove_outliers", COLUMNS, options={"method": "auto"}, raises=True),
    _case("remove_outliers_no_numbers", "remove_outliers", ["name"], options={"method": "auto"}, noop=True),
    _case("remove_outliers_unknown_method", "remove_outliers", ["score"], options={"method": "zscore"}, raises=True),
    _case("select", "select", ["email", "id", "score"]),
    _case("select_missing_column", "select", ["id", "nope"], raises=True),
    _case("shift_down", "shift_down", ["qty"], outputs=_out("prev_qty", column_type="number")),
    _case(
        "shift_down_grouped",
        "shift_down",
        ["score"],
        options={"groupby_columns": ["plan"], "periods": 2},
        outputs=_out("prev2"),
    ),
    _case("shift_down_periods", "shift_down", ["name"], options={"periods": 3}, outputs=_out("n3", column_type="text")),
    _case("shift_up", "shift_up", ["amount"], outputs=_out("next_amount")),
    _case("mode_is_not_a_column_action", "mode", ["plan"], outputs=_out("m"), raises=True),
]


def _filter(id_: str, code: str, frame: str | None = None, raises=False, noop=False) -> dict:
    kw = {"frame": frame} if frame else {}
    return _case(f"filter_{id_}", "filter", axis="row", code=code, raises=raises, noop=noop, **kw)


FILTER_CASES = [
    _filter("equals", "qty == 3"),
    _filter("not_equals", "plan != 'basic'"),
    _filter("less_than", "amount < 10.5"),
    _filter("greater_or_equal", "score >= 50"),
    _filter("contains", "name contains 'a'"),
    _filter("not_contains", "email not contains 'example'"),
    _filter("equals_null_number", "amount == null"),
    _filter("equals_null_text", "name == null"),
    _filter("not_equals_null_text", "name != null"),
    _filter("not_equals_null_datetime", "created_at != null"),
    _filter("equals_null_bool", "verified == null"),
    _filter("not_equals_null_bool", "verified != null"),
    _filter("and_or", "(qty > 2 and plan == 'pro') or amount == null"),
    _filter("between_columns", "amount < visits or qty == visits"),
    _filter("arithmetic", "lat1 - 6 > lat2", raises=True),  # only `name op value`: lat1 stays unprefixed
    _filter("true_literal", "active == true"),
    _filter("interpolated_variable", "%{qty} > 8"),
    _filter("quoted_column_with_space", '"Customer ID" >= 3', frame="names"),
    _filter("quoted_value_naming_a_column", "plan == 'name' or qty != 'id'"),
    _filter("datetime", "created_at > '2024-03-01'"),
    _filter("empty_code", "", noop=True),
    _filter("contains_on_a_number", "qty contains '1'", raises=True),
]


def _sort(id_: str, arguments, raises=False, **options) -> dict:
    return _case(f"sort_{id_}", "sort", arguments, axis="row", options=options, raises=raises)


ROW_CASES = [
    *FILTER_CASES,
    _sort("ascending", ["qty"], ascending=True),
    _sort("default", ["score"]),
    _sort("descending", ["created_at"], ascending=False),
    _sort("number_with_nulls_ascending", ["amount"], ascending=True),
    _sort("number_with_nulls_descending", ["amount"], ascending=False),
    _sort("text_with_nulls", ["name"]),
    _sort("ascendings", ["plan", "qty"], ascendings=[True, False]),
    _sort("ascendings_descending_first", ["visits", "name"], ascendings=[False, True]),
    _sort("currency_strings", ["price"], raises=True),  # a "number" Mage casts to float
    _case("drop_duplicate_first", "drop_duplicate", COLUMNS, axis="row", options={"keep": "first"}),
    _case("drop_duplicate_last_subset", "drop_duplicate", ["plan"], axis="row", options={"keep": "last"}),
    _case("drop_duplicate_default", "drop_duplicate", axis="row"),
    _case("drop_duplicate_none_kept", "drop_duplicate", ["plan", "active"], axis="row", options={"keep": False}),
    _case("remove_rows", "remove", axis="row", options={"rows": [0, 3, 5, 999]}),
    _case("custom_rows", "custom", axis="row", code="@transformer_action\ndef f(df):\n    return df[df.qty > 4]"),
    _case("explode_is_not_a_row_action", "explode", ["name"], axis="row", raises=True),
]

OTHER_CASES = [
    _case(
        "group_with_child_actions",
        "group",
        ["plan"],
        children=[
            dict(action_type="shift_down", arguments=["qty"], outputs=_out("prev_qty")),
            dict(action_type="sort", arguments=["score"], axis="row", options={"ascending": False}),
        ],
    ),
    _case("join_left", "join", options={"left_on": ["plan"], "right_on": ["plan_key"], "how": "left"}, join="right"),
    _case(
        "join_mismatched_dtypes",
        "join",
        join="right",
        options={
            "left_on": ["qty"],
            "right_on": ["code"],
            "how": "inner",
            "drop_columns": ["email"],
            "rename_columns": {"seats": "seat_count"},
        },
    ),
    _case(
        "join_renamed_outputs",
        "join",
        join="right",
        outputs=[{"uuid": "limit", "source_feature": {"uuid": "seats"}}],
        options={"left_on": ["plan"], "right_on": ["plan_key"], "how": "right"},
    ),
    _case("empty_frame", "sort", ["qty"], axis="row", frame="empty", noop=True),
]


def _as_strings(case: dict) -> dict:
    return {**case, "id": f"{case['id']}_as_strings", "strings": True}


STRING_CASES = [  # what one writes without the enums: Mage's KeyErrors show the plain string then
    _as_strings(case)
    for case in [*COLUMN_CASES, *ROW_CASES]
    if case["id"] in ("mode_is_not_a_column_action", "explode_is_not_a_row_action", "impute_median", "filter_and_or")
]
CASES = [*COLUMN_CASES, *ROW_CASES, *OTHER_CASES, *STRING_CASES]


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mages(tmp_path_factory) -> tuple[Path, dict]:
    """Every case through real Mage, in one harness process (importing mage_ai takes seconds)."""
    folder = tmp_path_factory.mktemp("transformer_actions")
    for name, frame in FRAMES.items():
        frame.to_parquet(folder / f"{name}.parquet")
    (folder / "cases.json").write_text(json.dumps(CASES))
    cases, out = f"@{folder / 'cases.json'}", str(folder / "mage")
    doc = mage("transformer-actions", str(folder / "frame.parquet"), "--cases", cases, "--out", out)
    assert len(doc.get("cases", [])) == len(CASES), doc
    return folder, doc


def _ours(case: dict, folder: Path) -> tuple[dict | None, pd.DataFrame | Exception]:
    """Our inferred column types and our output (or what we raised), as a transformer-action block
    written from Mage's templates runs it: with Mage's enums (unless the case says `strings`), on
    the frame read from parquet."""
    from mage_prefect.runtime.compat import install

    install()
    from mage_ai.data_cleaner.transformer_actions.base import BaseAction
    from mage_ai.data_cleaner.transformer_actions.constants import ActionType, Axis, ImputationStrategy
    from mage_ai.data_cleaner.transformer_actions.utils import build_transformer_action

    def build(df: pd.DataFrame, spec: dict) -> dict:
        if not case.get("strings"):  # as the harness does
            spec = {**spec, "action_type": ActionType(spec["action_type"]), "axis": Axis(spec.get("axis", "column"))}
            if "strategy" in spec.get("options", {}):
                spec["options"] = {**spec["options"], "strategy": ImputationStrategy(spec["options"]["strategy"])}
        return build_transformer_action(df, **spec)

    def read(name: str | None) -> pd.DataFrame:
        return pd.read_parquet(folder / f"{name or 'frame'}.parquet")

    df, column_types = read(case.get("frame")), None
    try:
        action = build(df, case["build"])
        column_types = {name: v["feature"]["column_type"] for name, v in action["action_variables"].items()}
        if "children" in case:
            action["child_actions"] = [build(df, child) for child in case["children"]]
        kwargs = {"df_to_join": read(case["join"])} if case.get("join") else {}
        return column_types, BaseAction(action).execute(df, **kwargs)
    except Exception as e:  # noqa: BLE001  (compared with what Mage raised)
        return column_types, e


def _assert_equal(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Values, index and column order, names included; not dtypes (pandas 2 vs 3)."""
    pd.testing.assert_frame_equal(
        comparable(ours), comparable(theirs), check_dtype=False, check_index_type=False, check_column_type=False
    )


def _is_unchanged(output: pd.DataFrame, frame: pd.DataFrame) -> bool:
    try:
        with warnings.catch_warnings():  # pandas warns of NaT vs NaN where a column changed dtype
            warnings.simplefilter("ignore", FutureWarning)
            _assert_equal(output, frame)
    except AssertionError:
        return False
    return True


def _assert_random_impute(output: pd.DataFrame, frame: pd.DataFrame, columns: list[str]) -> None:
    """What is deterministic of Mage's random imputation (a sample of the column's own values,
    unseeded): nothing missing is left, values that were there stay, the rest come from them."""
    for column in columns:
        before, after = frame[column], output[column]
        missing = before.isna() | before.astype(str).str.fullmatch(r"\s*")  # Mage blanks '' and ' ' first
        assert after.notna().all(), column
        assert (after[~missing] == before[~missing]).all(), column
        assert set(after[missing]) <= set(before[~missing]), column
    _assert_equal(output.drop(columns=columns), frame.drop(columns=columns))


def _assert_rows_removed(output: pd.DataFrame, frame: pd.DataFrame, count: int, columns: list[str]) -> None:
    """What is deterministic of an outlier removal whose result depends on the columns' order:
    the input's rows, as they were, less `count` rows that all have every one of the columns."""
    assert len(output) == len(frame) - count
    _assert_equal(output, frame.loc[output.index])
    assert frame.drop(index=output.index)[columns].notna().all(axis=None)


def test_the_cases_cover_every_action_and_udf_of_mages(mages):
    """Every (axis, action type) of Mage's FUNCTION_MAPPING and every udf of its add action."""
    _, doc = mages
    covered = {(case["build"]["axis"], case["build"]["action_type"]) for case in CASES if not case.get("raises")}
    assert {(axis, action) for axis, actions in doc["actions"].items() for action in actions} <= covered
    assert set(doc["udfs"]) <= {case["build"]["options"]["udf"] for case in ADD_CASES if not case.get("raises")}


@pytest.mark.parametrize("i", range(len(CASES)), ids=[case["id"] for case in CASES])
def test_transformer_action_does_what_mages_does(mages, i):
    folder, doc = mages
    case, theirs = CASES[i], doc["cases"][i]
    assert ("error" in theirs) == bool(case.get("raises")), f"Mage: {theirs}"  # the case means what it says
    assert theirs.get("ok") or "error" in theirs, f"Mage's output could not be written: {theirs}"

    column_types, ours = _ours(case, folder)
    assert column_types == theirs.get("column_types")
    if "error" in theirs:
        assert isinstance(ours, Exception), f"Mage raised {theirs['error']}, we did not"
        assert type(ours).__name__ == theirs["error"].split(":")[0]
        if case["raises"] != "pandas" or pd.__version__.split(".")[0] == MAGES_PANDAS:
            assert f"{type(ours).__name__}: {ours}" == theirs["error"]  # pandas words its own errors anew
        return
    if isinstance(ours, Exception):
        raise AssertionError(f"we raised where Mage returned a frame: {type(ours).__name__}: {ours}") from ours

    expected = pd.read_parquet(folder / "mage" / f"{i}.parquet")
    frame = pd.read_parquet(folder / f"{case.get('frame') or 'frame'}.parquet")
    assert len(expected) or case.get("frame") == "empty", "Mage returned no rows: not a meaningful case"
    assert _is_unchanged(expected, frame) == bool(case.get("noop")), "Mage's output is (not) the input"
    if case.get("random"):
        for output in (expected, ours):
            _assert_random_impute(output, frame, case["build"]["arguments"])
    elif case.get("set_order"):
        for output in (expected, ours):
            _assert_rows_removed(output, frame, len(frame) - len(expected), case["build"]["arguments"])
    else:
        _assert_equal(ours, expected)

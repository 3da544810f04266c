"""The shim's transformer actions and column types on a small frame, against what Mage 0.9.80 answers
for the same frame (the compat tier compares every action type with real Mage)."""

from __future__ import annotations

import pandas as pd
import pytest

from mage_prefect.runtime.compat import install
from mage_prefect.runtime.compat.column_types import infer_column_types

install()
from mage_ai.data_cleaner.transformer_actions.base import BaseAction  # noqa: E402 (served by the shim)
from mage_ai.data_cleaner.transformer_actions.constants import ActionType, Axis  # noqa: E402
from mage_ai.data_cleaner.transformer_actions.utils import (  # noqa: E402
    build_transformer_action,
    clean_column_name,
)


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "fee": [3.5, None, 1.25, 7.0, 2.0],
            "plan": ["pro", "", None, "basic", "pro"],
            "zip code": ["94107", "10001", "60601", "73301", "02139"],
            "mail": ["a@x.io", "b@y.io", "c@z.io", "d@w.io", "e@v.io"],
            "when": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"],
        }
    )


def test_column_types_are_mages():
    assert infer_column_types(frame()) == {
        "id": "number",
        "fee": "number_with_decimals",
        "plan": "true_or_false",  # two distinct values once blanks are dropped
        "zip code": "zip_code",
        "mail": "email",
        "when": "datetime",
    }


def test_column_names_are_cleaned_as_mage_cleans_them():
    names = ["Customer ID", "camelCase", "PascalCase", "UPPER", "class", "2nd place", " -weird.name- "]
    assert [clean_column_name(name) for name in names] == [
        "customer_id",
        "camel_case",
        "pascal_case",
        "upper",
        "class_",
        "2nd_place",
        "weird_name",
    ]


@pytest.mark.parametrize(
    ("action_type", "axis", "build", "ids"),
    [
        (ActionType.SORT, Axis.ROW, dict(arguments=["fee"], options={"ascending": True}), [2, 3, 5, 1, 4]),
        (ActionType.FILTER, Axis.ROW, dict(action_code="plan == null or fee > 3"), [1, 2, 3, 4]),
        (ActionType.DROP_DUPLICATE, Axis.ROW, dict(arguments=["plan"], options={"keep": "first"}), [1, 2, 3, 4]),
        (ActionType.REMOVE, Axis.ROW, dict(options={"rows": [0, 4, 9]}), [2, 3, 4]),
    ],
)
def test_row_actions_keep_the_rows_mage_keeps(action_type, axis, build, ids):
    action = build_transformer_action(frame(), action_type=action_type, axis=axis, **build)
    assert BaseAction(action).execute(frame())["id"].tolist() == ids


def test_an_unknown_strategy_fails_with_mages_message():
    action = build_transformer_action(frame(), action_type=ActionType.IMPUTE, arguments=["fee"], axis=Axis.COLUMN)
    with pytest.raises(Exception, match="Require a valid strategy or value"):
        BaseAction(action).execute(frame())

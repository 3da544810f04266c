"""Differential: transformer blocks written from Mage's own transformer-action templates (as its UI
writes them: Block.create with the action's type and axis), filled in as a user fills them in, run
by Mage's scheduler and by mage-prefect on a real Prefect server, give the same outputs."""

from __future__ import annotations

import re

from tests.compat.conftest import mage_project
from tests.compat.test_outputs_equal_mages import compare, mage_outputs, ours_outputs

LOADER = """\
import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_customers(*args, **kwargs):
    rows = [
        {
            'Customer ID': f'c{i}',
            'plan': ['basic', 'pro', ' Team ', '', None, 'PRO'][i % 6],
            'fee': None if i % 7 == 3 else (400.0 if i == 13 else 10 + (i % 5) * 2.5),
            'seats': 90 if i == 20 else i % 4 + 1,
            'price': '' if i % 11 == 4 else f'${(i % 9) * 1000 + 0.5:,.2f}',
            'signed_up': ['2024-01-05', 'Jan 6, 2024', '2024/01/07', ' 2024 - 01 - 08 ', None][i % 5],
            'email': 'not-an-email' if i % 8 == 2 else f'user{i}@example.com',
        }
        for i in range(38)
    ]
    return pd.DataFrame(rows + rows[:2])  # two rows twice, for drop_duplicate
"""

# block name → (template action type, axis, the edits a user makes to the generated code)
ONE_COLUMN = "arguments=[],  # Specify"


def columns(*names: str) -> str:
    return f"arguments={list(names)!r},  # Specify"


def aggregate(column: str, *groups: str) -> dict[str, str]:
    """The edits of an aggregation template: its column and the columns to group by."""
    return {
        "arguments=[],  # Enter": f"arguments=[{column!r}],  # Enter",
        "options={'groupby_columns': []}": f"options={{'groupby_columns': {list(groups)!r}}}",
    }


BLOCKS = {
    "average_fee": ("average", "column", aggregate("fee")),
    "sum_by_seats": (
        "sum",
        "column",
        aggregate("fee", "seats"),
    ),
    "max_fee": ("max", "column", aggregate("fee")),
    "median_fee": ("median", "column", aggregate("fee")),
    "min_by_plan": (
        "min",
        "column",
        aggregate("fee", "plan"),
    ),
    "count_by_seats": (
        "count",
        "column",
        aggregate("Customer ID", "seats"),
    ),
    "distinct_plans": (
        "count_distinct",
        "column",
        aggregate("plan", "seats"),
    ),
    "first_plan": (
        "first",
        "column",
        aggregate("plan", "seats"),
    ),
    "last_plan": ("last", "column", aggregate("plan", "seats")),  # ungrouped, Mage fails: Series.last needs an offset
    "clean_names": ("clean_column_name", "column", {}),
    "fee_diff": ("diff", "column", {ONE_COLUMN: columns("fee")}),
    "fix_syntax": ("fix_syntax_errors", "column", {}),
    "impute_constant": ("impute", "column", {"arguments=df.columns,": "arguments=['plan', 'fee'],"}),
    "impute_median": ("impute", "column", {"arguments=df.columns,": "arguments=['fee'],", "CONSTANT": "MEDIAN"}),
    "normalize_fee": ("normalize", "column", {ONE_COLUMN: columns("fee")}),
    "standardize_seats": ("standardize", "column", {ONE_COLUMN: columns("seats")}),
    "lower_plan": (
        "reformat",
        "column",
        {
            ONE_COLUMN: columns("plan"),
            "{'reformat': None}": "{'reformat': 'caps_standardization', 'capitalization': 'lowercase'}",
        },
    ),
    "price_number": (
        "reformat",
        "column",
        {ONE_COLUMN: columns("price"), "{'reformat': None}": "{'reformat': 'currency_to_num'}"},
    ),
    "dates": (
        "reformat",
        "column",
        {
            ONE_COLUMN: columns("signed_up"),
            "{'reformat': None}": "{'reformat': 'date_format_conversion'}",
        },
    ),
    "trim_plan": (
        "reformat",
        "column",
        {ONE_COLUMN: columns("plan"), "{'reformat': None}": "{'reformat': 'trim'}"},
    ),
    "remove_email": ("remove", "column", {ONE_COLUMN: columns("email")}),
    "without_outliers": ("remove_outliers", "column", {"arguments=df.columns,": "arguments=['fee', 'seats'],"}),
    "select_all": ("select", "column", {}),
    "fee_before": ("shift_down", "column", {ONE_COLUMN: columns("fee")}),
    "seats_after": ("shift_up", "column", {ONE_COLUMN: columns("seats")}),
    "distinct_rows": ("drop_duplicate", "row", {}),
    "paying": ("filter", "row", {"action_code=''": "action_code='fee > 12 or plan == null'"}),
    "dropped_rows": ("remove", "row", {"'rows': []": "'rows': [0, 3, 5]"}),
    "by_fee": ("sort", "row", {ONE_COLUMN: columns("fee"), "'ascending': True": "'ascending': False"}),
}


def _edit(path, edits: dict[str, str]) -> None:
    code = path.read_text()
    for old, new in edits.items():
        assert old in code, f"{path.name}: Mage's template has no {old!r}"
        code = code.replace(old, new)
    path.write_text(code)


def test_every_transformer_action_template_block_gives_mages_outputs(prefect_server, tmp_path):
    blocks = [{"name": "load_customers", "type": "data_loader", "content": LOADER}] + [
        {
            "name": name,
            "type": "transformer",
            "upstream_blocks": ["load_customers"],
            "config": {"action_type": kind, "axis": axis},
        }
        for name, (kind, axis, _) in BLOCKS.items()
    ]
    root = mage_project(tmp_path / "cleaning_project", "cleaning", blocks)
    for name, (_, _, edits) in BLOCKS.items():
        code = (root / "transformers" / f"{name}.py").read_text()
        assert re.search(r"BaseAction\(action\)\.execute\(df\)", code), f"{name} is not Mage's action template"
        _edit(root / "transformers" / f"{name}.py", edits)

    theirs = mage_outputs(root, "cleaning", tmp_path / "mage")
    assert set(BLOCKS) <= set(theirs), sorted(set(BLOCKS) - set(theirs))  # every block ran in Mage
    ours = ours_outputs(root, "cleaning", theirs)
    compare(ours, theirs)

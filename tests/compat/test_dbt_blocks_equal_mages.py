"""Differential: a pipeline of dbt blocks (SQL models that ref each other and read a Python block's
DataFrame as Mage's source, a Python block reading the last one's rows, a YAML command block
against another target) run by Mage's scheduler
with dbt-duckdb and by mage-prefect on a real Prefect server gives every block the same outputs,
and builds the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.compat.test_outputs_equal_mages import compare, mage_outputs, ours_outputs

SHOP = Path(__file__).parents[1] / "e2e" / "projects" / "dbt_shop"


def _tables(database: Path) -> list[tuple]:
    with duckdb.connect(str(database)) as connection:  # as dbt-duckdb opens it (its connection may be open)
        return connection.sql(
            "select table_schema, table_name, (select count(*) from information_schema.columns c "
            "where c.table_schema = t.table_schema and c.table_name = t.table_name) "
            "from information_schema.tables t order by 1, 2"
        ).fetchall()


def test_dbt_blocks_give_mages_outputs_and_tables(prefect_server, tmp_path, monkeypatch):
    theirs_root = Path(shutil.copytree(SHOP, tmp_path / "mage" / "dbt_shop"))
    monkeypatch.setenv("SHOP_DUCKDB", str(tmp_path / "mage.duckdb"))
    theirs = mage_outputs(theirs_root, "shop", tmp_path / "mage_out")

    ours_root = Path(shutil.copytree(SHOP, tmp_path / "ours" / "dbt_shop"))
    monkeypatch.setenv("SHOP_DUCKDB", str(tmp_path / "ours.duckdb"))
    ours = ours_outputs(ours_root, "shop", theirs)

    compare(ours, theirs)
    assert theirs["dbt/shop/models/orders"] == [None]  # no block but dbt downstream: Mage reads no rows
    assert len(theirs["dbt/shop/models/tiers"][0]) == 2  # with the Python block's frame, seeded as a source
    assert _tables(tmp_path / "ours.duckdb") == _tables(tmp_path / "mage.duckdb")

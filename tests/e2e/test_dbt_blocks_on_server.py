"""dbt blocks, end to end on a real Prefect server: a dbt project (dbt-duckdb) with three models, one
reading a Python block's DataFrame as Mage's source, a Python block reading the last one's rows, and
a YAML command block run against another target."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from mage_prefect import get_output, run_pipeline

from .conftest import HERE, copy_project, task_runs
from .postgres import create_database

pytestmark = pytest.mark.e2e


@pytest.fixture()
def shop(tmp_path_factory, monkeypatch):
    project = copy_project(HERE / "projects" / "dbt_shop", tmp_path_factory)
    monkeypatch.setenv("SHOP_DUCKDB", str(project / "shop.duckdb"))  # profiles.yml reads it with env_var()
    return project


def test_dbt_models_build_and_their_rows_are_the_block_outputs(prefect_server, shop):
    import duckdb

    run = run_pipeline(shop, "shop")

    assert run.ok, run.state.message
    tiers = get_output(shop, "shop", "dbt/shop/models/tiers")  # `dbt show` of the model, as Mage reads it
    assert tiers.to_dict("list") == {  # revenue (min_amount, a pipeline variable as --vars, drops 7.5) by tier,
        "tier": ["gold", "silver"],  # the tiers from a Python block's DataFrame, seeded as Mage's source
        "revenue": [Decimal("30.0"), Decimal("12.5")],
        "customers": [1, 1],
    }
    assert get_output(shop, "shop", "dbt/shop/models/revenue") is None  # only dbt downstream: no rows read
    assert get_output(shop, "shop", "report") == {"tiers": ["gold", "silver"], "total": 42.5}
    assert get_output(shop, "shop", "refresh") == []  # a YAML dbt block stores no output, as in Mage
    with duckdb.connect(str(shop / "shop.duckdb")) as connection:  # dbt-duckdb keeps its own open
        tables = connection.sql("select table_schema, table_name from information_schema.tables").fetchall()
    # the YAML block ran `dbt run --select orders revenue` with dbt_profile_target rendered from variables
    assert sorted(tables) == [
        ("main", "mage_shop_load_customers"),
        ("main", "orders"),
        ("main", "revenue"),
        ("main", "tiers"),
        ("other", "orders"),
        ("other", "revenue"),
    ]
    assert not list((shop / "dbt" / "shop" / "seeds").rglob("*.csv"))  # the seed's CSV is gone, as in Mage
    blocks = {"load_customers", "dbt/shop/models/orders", "dbt/shop/models/tiers", "report", "refresh"}
    deadline = time.monotonic() + 60  # the server records the dbt nodes' task runs too, in any order
    while not blocks <= set(names := list(task_runs(run.flow_run_id, expected=len(blocks)))):
        assert time.monotonic() < deadline, names
        time.sleep(0.5)
    assert any("orders" in name and name != "dbt/shop/models/orders" for name in names), names  # dbt's nodes


def test_a_failing_dbt_test_fails_the_block_with_dbts_message(prefect_server, shop):
    model = shop / "dbt" / "shop" / "models" / "orders.sql"
    model.write_text(model.read_text().replace("(2, 'bob'", "(1, 'bob'"))  # order_id no longer unique

    run = run_pipeline(shop, "shop")

    assert not run.ok
    message = run.blocks["dbt/shop/models/orders"]["message"]
    assert "unique_orders_order_id" in message and "failed" in message, message
    assert run.blocks["report"]["state"] == "UpstreamFailed"


def test_a_yaml_dbt_block_runs_against_postgresql_through_dbt_postgres(prefect_server, postgres, shop, monkeypatch):
    import psycopg

    url = create_database(postgres, "shop")
    monkeypatch.setenv("SHOP_PG_PORT", url.rsplit(":", 1)[1].split("/")[0])

    run = run_pipeline(shop, "shop", variables={"refresh_target": "pg"})  # the profile's PostgreSQL target

    assert run.ok, run.state.message
    with psycopg.connect(url) as connection:
        rows = connection.execute("select customer, revenue, orders from public.revenue order by 1").fetchall()
    assert rows == [("alice", Decimal("30.0"), 1), ("bob", Decimal("12.5"), 1)]

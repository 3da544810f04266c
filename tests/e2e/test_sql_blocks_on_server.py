"""SQL blocks and the mage_ai.io connectors, end to end: real DuckDB files and a real PostgreSQL."""

from __future__ import annotations

import pytest

from mage_prefect import get_output, run_pipeline

from .conftest import HERE, copy_project, task_runs
from .postgres import create_database

pytestmark = pytest.mark.e2e


@pytest.fixture()
def warehouse(tmp_path_factory, monkeypatch):
    project = copy_project(HERE / "projects" / "warehouse", tmp_path_factory)
    monkeypatch.setenv("WAREHOUSE_DUCKDB", str(project / "warehouse.duckdb"))
    return project


def test_duckdb_sql_blocks_materialise_read_back_and_chain(prefect_server, warehouse):
    import duckdb

    run = run_pipeline(warehouse, "sales")

    assert run.ok, run.state.message
    daily = get_output(warehouse, "sales", "daily_revenue")  # the materialised table, read back
    assert daily.to_dict("list") == {
        "order_date": ["2026-11-01", "2026-11-02", "2026-11-03"],
        "revenue": [20.0, 95.0, 40.0],
        "orders": [1, 2, 1],
    }
    # a Python exporter gets the SQL block's DataFrame and uses the mage_ai.io DuckDB connector
    assert get_output(warehouse, "sales", "report") == {
        "best_day": "2026-11-02",
        "revenue": 95.0,
        "days_in_warehouse": 3,
    }
    with duckdb.connect(str(warehouse / "warehouse.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    # Mage's names: the exported Python input and each SQL block's table, dev_-prefixed outside deployments
    assert {
        "dev_sales_load_orders_v1",
        "dev_sales_daily_revenue_v1",
        "dev_sales_best_day_v1",
        "best_day_report",
    } <= tables
    assert set(task_runs(run.flow_run_id, expected=4)) == {"load_orders", "daily_revenue", "best_day", "report"}


def test_a_failing_sql_block_names_the_block_file_and_the_database_error(prefect_server, warehouse):
    (warehouse / "transformers" / "best_day.sql").write_text("SELECT no_such_column FROM {{ df_1 }}")

    run = run_pipeline(warehouse, "sales")

    assert not run.ok
    assert (run.blocks["best_day"]["state"], run.blocks["report"]["state"]) == ("Failed", "UpstreamFailed")
    message = run.blocks["best_day"]["message"]
    assert "best_day" in message and "best_day.sql" in message and "no_such_column" in message


def test_postgres_sql_blocks_append_raw_sql_and_the_postgres_connector(
    prefect_server, postgres, warehouse, monkeypatch
):
    import psycopg

    url = create_database(postgres, "warehouse")
    monkeypatch.setenv("WAREHOUSE_PG_PORT", url.rsplit(":", 1)[1].split("/")[0])

    first = run_pipeline(warehouse, "sales_pg", execution_date="2026-11-20")
    second = run_pipeline(warehouse, "sales_pg", execution_date="2026-11-21")

    assert first.ok and second.ok, (first.state.message, second.state.message)
    # export_write_policy defaults to append, as in Mage: the second run adds its rows to the table
    assert len(get_output(warehouse, "sales_pg", "daily_revenue", run=first.flow_run_id)) == 3
    assert len(get_output(warehouse, "sales_pg", "daily_revenue")) == 6
    # raw SQL: the statements ran; the output is the table the INSERT wrote
    totals = get_output(warehouse, "sales_pg", "raw_totals")
    assert totals.to_dict("list") == {"run_date": ["2026-11-20", "2026-11-21"], "total": [77.5, 155.0]}
    # the Postgres connector with a verbose (legacy) io_config profile; '%' in the query is SQL, not a placeholder
    assert get_output(warehouse, "sales_pg", "export_pg") == 8
    with psycopg.connect(url) as connection:
        count = connection.execute("SELECT COUNT(*) FROM analytics.dev_sales_pg_daily_revenue_v1").fetchone()[0]
        copied = connection.execute("SELECT COUNT(*) FROM reports.daily_copy").fetchone()[0]
    assert (count, copied) == (6, 6)


def test_block_code_reads_and_writes_snowflake_through_mage_ai_io_snowflake(prefect_server, warehouse, monkeypatch):
    """fakesnow: Snowflake's SQL on DuckDB behind snowflake.connector's own `connect` and `write_pandas`."""
    import fakesnow
    import snowflake.connector

    monkeypatch.setenv("SNOWFLAKE_TEST_PASSWORD", "s3cret")
    with fakesnow.patch():
        run = run_pipeline(warehouse, "snowflake_mart")
        assert run.ok, run.state.message
        with snowflake.connector.connect(database="MART", schema="PUBLIC") as connection:
            stored = connection.cursor().execute("SELECT ID FROM ORDERS ORDER BY ID").fetchall()

    assert stored == [(1,), (2,), (3,)]
    assert get_output(warehouse, "snowflake_mart", "export_snowflake") == {
        "appended": 4,  # replace wrote 3 rows, the default policy appended 1
        "orders": {"ID": [1, 2, 3], "AMOUNT": [10.5, 20.0, 7.25]},
        "big": [1, 2],  # query_string: CREATE TABLE … AS the query
        "limited": 2,
        "refused": "Table ORDERS already exists in the current warehouse, database, schema scenario.",
    }

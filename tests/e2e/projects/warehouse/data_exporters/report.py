from os import path

from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.duckdb import DuckDB
from mage_ai.settings.repo import get_repo_path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def report(best_day, *args, **kwargs):
    config = ConfigFileLoader(path.join(get_repo_path(), 'io_config.yaml'), 'default')
    with DuckDB.with_config(config) as loader:
        loader.export(best_day, 'main', 'best_day_report', if_exists='replace')
        prefix = 'dev_' if kwargs['env'] == 'dev' else ''  # Mage's table names in dev runs
        days = loader.load(f"SELECT COUNT(*) AS n FROM main.{prefix}sales_daily_revenue_v1")
    return {"best_day": str(best_day["order_date"].iloc[0]), "revenue": float(best_day["revenue"].iloc[0]),
            "days_in_warehouse": int(days["n"].iloc[0])}

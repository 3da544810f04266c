from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export_pg(daily, *args, **kwargs):
    with Postgres.with_config(ConfigFileLoader(profile='legacy_pg')) as loader:
        loader.export(daily, 'reports', 'daily_copy', if_exists='replace', index=False)
        back = loader.load("SELECT SUM(orders) AS orders FROM reports.daily_copy WHERE order_date LIKE '2026-11-%'")
    return int(back["orders"].iloc[0])

from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.snowflake import Snowflake

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export(df, *args, **kwargs):
    with Snowflake.with_config(ConfigFileLoader(profile='snow')) as snowflake:
        snowflake.export(df, 'ORDERS', if_exists='replace')
        snowflake.export(df.head(1), 'ORDERS')  # Mage's default: append
        appended = len(snowflake.load('SELECT * FROM MART.PUBLIC.ORDERS'))
        snowflake.export(df, 'ORDERS', if_exists='replace')
        try:
            snowflake.export(df, 'ORDERS', if_exists='fail')
            refused = None
        except RuntimeError as error:
            refused = str(error)
        snowflake.export(None, 'BIG_ORDERS', query_string='SELECT * FROM MART.PUBLIC.ORDERS WHERE AMOUNT > 8')
    verbose = Snowflake.with_config(ConfigFileLoader(profile='snow_verbose'))
    try:
        return {
            'appended': appended,
            'orders': verbose.load('SELECT ID, AMOUNT FROM MART.PUBLIC.ORDERS ORDER BY ID').to_dict('list'),
            'big': verbose.load('SELECT ID FROM MART.PUBLIC.BIG_ORDERS ORDER BY ID')['ID'].tolist(),
            'limited': len(verbose.load('SELECT * FROM MART.PUBLIC.ORDERS', limit=2)),
            'refused': refused,
        }
    finally:
        verbose.close()

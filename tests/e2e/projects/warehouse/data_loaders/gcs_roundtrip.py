import pandas as pd
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.google_cloud_storage import GoogleCloudStorage

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def roundtrip(*args, **kwargs):
    gcs = GoogleCloudStorage.with_config(ConfigFileLoader(profile='gcs'))
    bucket = kwargs['bucket']
    gcs.export(pd.DataFrame({'n': [1, 2, 3]}), bucket, 'lake/numbers.parquet')
    gcs.export(pd.DataFrame({'n': [4]}), bucket, 'lake/more.csv')
    return {
        'parquet': gcs.load(bucket, 'lake/numbers.parquet')['n'].tolist(),
        'csv': gcs.load(bucket, 'lake/more.csv')['n'].tolist(),
        'missing_is_empty': gcs.load(bucket, 'lake/none.csv').empty,
        'exists': gcs.exists(bucket, 'lake/more.csv'),
        'prefix_is_not_an_object': gcs.exists(bucket, 'lake/'),
    }

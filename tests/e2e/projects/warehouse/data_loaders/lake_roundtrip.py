import pandas as pd
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.s3 import S3

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def roundtrip(*args, **kwargs):
    s3 = S3.with_config(ConfigFileLoader(profile='lake'))
    bucket = kwargs['bucket']
    s3.export(pd.DataFrame({'n': [1, 2, 3]}), bucket, 'lake/numbers.parquet')
    s3.export(pd.DataFrame({'n': [4]}), bucket, 'lake/more.csv')
    back = s3.load(bucket, 'lake/numbers.parquet')
    return {
        'parquet': back['n'].tolist(),
        'csv': s3.load(bucket, 'lake/more.csv')['n'].tolist(),
        'exists': s3.exists(bucket, 'lake/'),
        'missing': s3.exists(bucket, 'nowhere/'),
    }

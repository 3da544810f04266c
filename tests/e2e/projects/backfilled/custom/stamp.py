import os
import time

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def stamp(*args, **kwargs):
    if kwargs['ds'] == os.environ.get('FAIL_ON_DS'):
        raise ValueError(f"no data for {kwargs['ds']} yet")
    time.sleep(float(os.environ.get('STAMP_SECONDS', '0')))
    return {
        name: str(kwargs.get(name))
        for name in ('ds', 'hr', 'execution_date', 'interval_start_datetime', 'interval_end_datetime',
                     'interval_seconds', 'region')
    }

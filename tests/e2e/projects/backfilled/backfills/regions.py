if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def regions(*args, **kwargs):
    """One run per region, each on the same day (the pipeline's variables come in as kwargs)."""
    return [
        {'region': region, 'execution_date': '2023-02-01T06:00', 'ds': '2023-02-01'}
        for region in ('eu', 'us', 'apac')
        if region != kwargs.get('skip')
    ]

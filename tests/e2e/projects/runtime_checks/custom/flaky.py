if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def flaky(*args, **kwargs):
    attempt = kwargs['retry']['attempts']
    if attempt < 3:
        raise ConnectionError(f'transient failure on attempt {attempt}')
    return {'succeeded_on_attempt': attempt}

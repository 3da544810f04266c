if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader, test


@data_loader
def numbers(*args, **kwargs):
    return {'values': [3, 1, 2]}


@test
def test_has_values(output, *args) -> None:
    assert output['values'], 'The output has no values'

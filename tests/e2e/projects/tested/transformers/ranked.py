if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import test, transformer


@transformer
def ranked(numbers, *args, **kwargs):
    return {'values': sorted(numbers['values'])}


@test
def test_counts_every_value(output, *args, **kwargs) -> None:
    assert len(output['values']) == kwargs['expected'], 'A value went missing'


@test
def test_ascending(output, *args) -> None:
    assert output['values'] == sorted(output['values']), 'The values are not in ascending order'

from mlops_demo.utils.synthetic import customers

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_data(*args, **kwargs):
    """Synthetic customer data (generated, so the demo runs offline)."""
    return customers(int(kwargs.get('n_rows', 5000)), kwargs.get('random_state', 42))


@test
def test_output(output, *args) -> None:
    assert output is not None, 'The output is undefined'
    assert {'tenure_months', 'churned'} <= set(output.columns)

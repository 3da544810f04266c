from mlops_demo.utils.synthetic import customers

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_new(*args, **kwargs):
    """This week's customers to score (the label column is dropped: it is unknown)."""
    return customers(int(kwargs.get('n_rows', 200)), seed=7).drop(columns=['churned'])

import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def orders(*args, **kwargs):
    return pd.DataFrame({'ID': [1, 2, 3], 'AMOUNT': [10.5, 20.0, 7.25]})

import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_customers(*args, **kwargs):
    return pd.DataFrame({'customer': ['alice', 'bob', 'carol'], 'tier': ['gold', 'silver', 'gold']})

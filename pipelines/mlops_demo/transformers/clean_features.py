import pandas as pd

if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def transform(df: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
    df['monthly_charges'] = df['monthly_charges'].fillna(df['monthly_charges'].median())
    return pd.get_dummies(df, columns=['contract'], dtype=int)


@test
def test_no_missing_values(output, *args) -> None:
    assert not output.isna().any().any(), 'There are missing values left'

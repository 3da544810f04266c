from sklearn.model_selection import train_test_split

if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def split(df, *args, **kwargs):
    """Four outputs (X_train, X_test, y_train, y_test): downstream blocks receive them as one list."""
    X = df.drop(columns=['churned'])
    y = df['churned']
    return train_test_split(
        X, y, test_size=kwargs.get('test_size', 0.25), random_state=kwargs.get('random_state', 42), stratify=y,
    )


@test
def test_split(X_train, X_test, y_train, y_test, *args) -> None:
    assert len(X_train) == len(y_train) and len(X_test) == len(y_test)
    assert len(X_test) > 0

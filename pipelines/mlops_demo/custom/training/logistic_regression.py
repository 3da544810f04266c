from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def train(split, *args, **kwargs):
    X_train, X_test, y_train, y_test = split
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=float(kwargs.get('C', 1.0)), max_iter=kwargs['configuration'].get('max_iter', 500)),
    )
    model.fit(X_train, y_train)
    kwargs['logger'].info(f'trained on {len(X_train)} rows (attempt {kwargs["retry"]["attempts"]})')
    return model

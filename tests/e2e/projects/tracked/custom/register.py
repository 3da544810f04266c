from sklearn.dummy import DummyRegressor

from mage_prefect.mlflow import promote_if_better, register_model


@custom
def register(**kwargs):
    model = DummyRegressor().fit([[0.0], [1.0]], [0.0, 1.0])
    version = register_model(model, 'tracked_model')
    promoted = promote_if_better('tracked_model', version, 'score', kwargs['score'])
    return {'version': version, 'promoted': promoted}

from mlops_demo.utils.metrics import classification_metrics

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@custom
def evaluate(model, split, *args, **kwargs):
    X_train, X_test, y_train, y_test = split
    metrics = classification_metrics(y_test, model.predict(X_test), model.predict_proba(X_test)[:, 1])
    metrics['test_rows'] = int(len(X_test))
    return metrics


@test
def test_better_than_chance(metrics, *args) -> None:
    assert metrics['roc_auc'] > 0.6, f"roc_auc too low: {metrics['roc_auc']}"

import mlflow

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def score(customers, *args, **kwargs):
    """Churn probabilities from the champion model (or the version a promotion event names)."""
    name = kwargs.get('model_name', 'churn_classifier')
    version = kwargs.get('model_version')
    model = mlflow.sklearn.load_model(f'models:/{name}/{version}' if version else f'models:/{name}@champion')
    scored = customers.copy()
    scored['churn_probability'] = model.predict_proba(customers)[:, 1]
    return scored.sort_values('churn_probability', ascending=False)

import mlflow


@custom
def use(**kwargs):
    """Runs when a model is promoted: loads exactly the promoted version."""
    model = mlflow.sklearn.load_model(f"models:/{kwargs['model_name']}/{kwargs['model_version']}")
    return {'model_version': kwargs['model_version'], 'prediction': float(model.predict([[2.0]])[0])}

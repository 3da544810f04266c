from mage_prefect.mlflow import promote_if_better, register_model

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def register(model, metrics, *args, **kwargs):
    """Register the trained model; make it the champion only if it beats the current one.

    A promotion emits the Prefect event `mage_prefect.model.promoted`, which starts the
    `predict` pipeline's `on_new_model` trigger once deployed.
    """
    name = kwargs['configuration']['model_name']
    version = register_model(model, name)
    promoted = promote_if_better(name, version, 'roc_auc', metrics['roc_auc'])
    kwargs['logger'].info(f'{name} version {version}: ' + ('promoted to champion' if promoted else 'kept as challenger'))
    return {'model_name': name, 'version': version, 'promoted': promoted}

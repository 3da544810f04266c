import mlflow


@custom
def right(**kwargs):
    mlflow.log_metric('side', 2.0)
    return 'right'

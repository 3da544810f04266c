if 'condition' not in globals():
    from mage_ai.data_preparation.decorators import condition


@condition
def evaluate_condition(values, *args, **kwargs) -> bool:
    return sum(values) > 100

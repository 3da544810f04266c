if 'sensor' not in globals():
    from mage_ai.data_preparation.decorators import sensor

calls = []


@sensor
def check(*args, **kwargs) -> bool:
    calls.append(1)
    return len(calls) >= 3

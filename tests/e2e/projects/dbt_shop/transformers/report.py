if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def report(revenue, *args, **kwargs):
    return {'customers': revenue['customer'].tolist(), 'total': float(revenue['revenue'].sum())}

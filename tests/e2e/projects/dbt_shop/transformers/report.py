if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def report(tiers, *args, **kwargs):
    return {'tiers': tiers['tier'].tolist(), 'total': float(tiers['revenue'].sum())}

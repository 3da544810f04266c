@custom
def greet(**kwargs):
    return {
        'greeting': kwargs['greeting'],
        'audience': kwargs.get('audience'),
        'env': kwargs['env'],
        'trigger_name': kwargs['trigger_name'],
        'event': kwargs['event'],
        'source': kwargs.get('source'),
    }

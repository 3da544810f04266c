@custom
def greet(**kwargs):
    return {
        'greeting': kwargs['greeting'],
        'audience': kwargs.get('audience'),
        'env': kwargs['env'],
        'trigger_name': kwargs['trigger_name'],
        'event': kwargs['event'],
        'source': kwargs.get('source'),
        'interval_seconds': kwargs['interval_seconds'],
        'interval_span': _span(kwargs['interval_start_datetime_previous'], kwargs['interval_end_datetime']),
    }


def _span(first, last):
    return (last - first).total_seconds() if first and last else None

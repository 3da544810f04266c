@custom
def evaluate(model, data, **kwargs):
    x, y = data
    return {'r2': float(model.score(x, y)), 'rows': len(y), 'label': 'not a metric'}

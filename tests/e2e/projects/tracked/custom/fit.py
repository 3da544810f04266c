from sklearn.linear_model import Ridge


@custom
def fit(data, **kwargs):
    x, y = data
    return Ridge(alpha=kwargs['configuration']['alpha']).fit(x, y)

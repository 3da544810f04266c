import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_orders(*args, **kwargs):
    return pd.DataFrame({
        "order_id": [1, 2, 3, 4, 5, 6],
        "order_date": ["2026-11-01", "2026-11-01", "2026-11-02", "2026-11-02", "2026-11-03", "2026-11-03"],
        "amount": [10.0, 2.5, 40.0, 7.5, 20.0, 1.0],
        "note": ["50% off", "", "", "", "", ""],
    })

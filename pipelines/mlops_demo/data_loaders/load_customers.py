import numpy as np
import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_data(*args, **kwargs):
    """Synthetic customer data (generated, so the demo runs offline)."""
    n_rows = int(kwargs.get('n_rows', 5000))
    rng = np.random.default_rng(kwargs.get('random_state', 42))
    tenure = rng.integers(1, 72, n_rows)
    monthly = rng.normal(65, 20, n_rows).round(2)
    calls = rng.poisson(1.5, n_rows)
    contract = rng.choice(['month-to-month', 'one-year', 'two-year'], n_rows, p=[0.5, 0.3, 0.2])
    risk = -2.0 + 0.9 * calls - 0.05 * tenure + 0.02 * monthly + (contract == 'month-to-month') * 1.2
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-risk))
    monthly[rng.random(n_rows) < 0.02] = np.nan  # a few missing values to clean
    return pd.DataFrame({
        'tenure_months': tenure,
        'monthly_charges': monthly,
        'support_calls': calls,
        'contract': contract,
        'churned': churned.astype(int),
    })


@test
def test_output(output, *args) -> None:
    assert output is not None, 'The output is undefined'
    assert {'tenure_months', 'churned'} <= set(output.columns)

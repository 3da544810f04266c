"""Synthetic customers (so the demo runs offline), shared by the training and scoring loaders."""

import numpy as np
import pandas as pd


def customers(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
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

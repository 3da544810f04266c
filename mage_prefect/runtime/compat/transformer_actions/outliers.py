"""Mage's OutlierRemover (data_cleaner.estimators.outlier_removal): a contamination rate guessed by
the IQR rule, then Local Outlier Factor (≤ 5 dimensions) or an Isolation Forest, on scikit-learn."""

from __future__ import annotations

import numpy as np

MAX_CONTAMINATION_RATE = 0.15
MIN_CONTAMINATION_RATE = 0.025
SUPPORTED_METHODS = ("lof", "auto", "itree")


def contamination_rate(X: np.ndarray) -> float:
    """The share of rows with at least half their values outside 1.5 IQR of the quartiles."""
    first, third = np.quantile(X, 0.25, axis=0), np.quantile(X, 0.75, axis=0)
    margin = 1.5 * (third - first)
    outside = (X < first - margin) | (X > third + margin)
    mostly = outside.sum(axis=1) / outside.shape[1] >= 0.5
    return mostly.sum() / mostly.size


def _neighbors(count: int, rate: float) -> int:
    if count < 10:
        return 2
    if count < 500:
        return count // 10 + 1
    return 20 if rate <= 0.1 else 35


def outlier_mask(X: np.ndarray, method: str = "auto") -> np.ndarray:
    """True for each row of `X` the method finds an outlier."""
    if method not in SUPPORTED_METHODS:
        raise ValueError(f"The method specified '{method}' is not supported.")
    try:
        from sklearn.decomposition import PCA
        from sklearn.ensemble import IsolationForest
        from sklearn.neighbors import LocalOutlierFactor
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the remove_outliers transformer action needs scikit-learn, as in Mage: pip install scikit-learn",
            name="sklearn",
        ) from None
    count, dimensions = X.shape
    rate = min(max(contamination_rate(X), MIN_CONTAMINATION_RATE), MAX_CONTAMINATION_RATE)
    if method == "auto":
        method = "lof" if dimensions <= 5 else "itree"
    if method == "lof":
        labels = LocalOutlierFactor(n_neighbors=_neighbors(count, rate), n_jobs=-1, contamination=rate).fit_predict(X)
    else:  # as Mage: fitted on at most 20 principal components, asked about the rows as they are
        fitted = PCA(n_components=20, random_state=42).fit_transform(X) if dimensions > 20 else X
        forest = IsolationForest(contamination=rate, n_estimators=100, n_jobs=-1, random_state=42).fit(fitted)
        labels = forest.predict(X)
    return labels == -1

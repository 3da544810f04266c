if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer


@transformer
def summarize(df, *args, **kwargs):
    """Per-column statistics, a plain dict (stored as JSON)."""
    return {
        'rows': int(len(df)),
        'churn_rate': round(float(df['churned'].mean()), 4),
        'means': {column: round(float(value), 4) for column, value in df.mean(numeric_only=True).items()},
    }

import os

from mage_ai.settings.repo import get_repo_path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export(scored, *args, **kwargs):
    folder = os.path.join(get_repo_path(), 'exports')
    os.makedirs(folder, exist_ok=True)
    scored.head(kwargs.get('top_n', 20)).to_csv(os.path.join(folder, 'at_risk_customers.csv'), index=False)
    return {'scored': len(scored), 'max_probability': float(scored['churn_probability'].max())}

import json
import os
import pickle

from mage_ai.settings.repo import get_repo_path

if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter


@data_exporter
def export(metrics, summary, model, **kwargs):
    """Write the model and a report next to the project; return the report."""
    folder = os.path.join(get_repo_path(), kwargs['configuration']['export_dir'])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'model.pkl'), 'wb') as file:
        pickle.dump(model, file)
    report = {'execution_date': kwargs['ds'], 'env': kwargs['env'], 'metrics': metrics, 'data': summary}
    with open(os.path.join(folder, 'report.json'), 'w') as file:
        json.dump(report, file, indent=2)
    print(f"exported model and report to {folder}: roc_auc={metrics['roc_auc']:.3f}")
    return report

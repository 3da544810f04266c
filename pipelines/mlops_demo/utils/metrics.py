"""Project utilities, imported by blocks as `mlops_demo.utils.metrics` (Mage's sys.path rule)."""

from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def classification_metrics(y_true, y_pred, y_score) -> dict:
    return {
        'accuracy': float(accuracy_score(y_true, y_pred)),
        'f1': float(f1_score(y_true, y_pred)),
        'roc_auc': float(roc_auc_score(y_true, y_score)),
    }

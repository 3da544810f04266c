from datetime import datetime, timezone

import pandas as pd

from mage_ai.data_cleaner.column_types.column_type_detector import infer_column_types
from mage_ai.data_preparation.shared.secrets import get_secret_value
from mage_ai.data_preparation.variable_manager import get_global_variable, get_variable, set_global_variable
from mage_ai.orchestration.run_status_checker import check_status
from mage_ai.orchestration.triggers.api import trigger_pipeline

if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom


@custom
def use_helpers(values, *args, **kwargs):
    set_global_variable('shim_check', 'last_seen', 7)
    triggered = trigger_pipeline('replicas', variables={'unused': 1}, check_status=True, error_on_failure=True)
    frame = pd.DataFrame({'n': [1, 2, 3], 'price': [1.5, 2.5, 3.0], 'ok': [True, False, True],
                          'mail': ['a@x.io', 'b@y.io', 'c@z.io']})
    return {
        'from_store': get_variable('shim_check', 'start', 'output_1'),
        'global': get_global_variable('shim_check', 'last_seen'),
        'secret': get_secret_value('SHIM_TEST_SECRET'),
        'types': {k: v.value for k, v in infer_column_types(frame).items()},
        'triggered': triggered.status,
        'replicas_done': check_status('replicas', datetime.now(timezone.utc)),
    }

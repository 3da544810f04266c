"""Session-wide isolation: Prefect state goes to a temporary PREFECT_HOME, never ~/.prefect."""

import os
import tempfile

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="mage-prefect-tests-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
# The standalone fixture project's results setting reads this variable (tests of it unset it).
os.environ.setdefault("STANDALONE_RESULTS_DIR", tempfile.mkdtemp(prefix="standalone-results-"))

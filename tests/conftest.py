"""Session-wide isolation: Prefect state goes to a temporary PREFECT_HOME, never ~/.prefect."""

import os
import tempfile

import pytest

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="mage-prefect-tests-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
# The standalone fixture project's results setting reads this variable (tests of it unset it).
os.environ.setdefault("STANDALONE_RESULTS_DIR", tempfile.mkdtemp(prefix="standalone-results-"))


@pytest.fixture(scope="session", autouse=True)
def _no_background_server_left():
    """A CLI run without PREFECT_API_URL starts the local Prefect server in the background (unit
    tests of `run` do): stop the one in the tests' PREFECT_HOME, so none outlives the suite."""
    yield
    from mage_prefect import background_server

    background_server.stop()

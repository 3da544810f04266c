"""A canary secret through a run on a real Prefect server: a block reads it with get_secret_value,
prints it, and fails quoting it. Neither the CLI output nor the server's logs, flow and task run
states and artifacts hold it; only the block's own stored output may."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import mage_prefect

pytestmark = pytest.mark.e2e
CANARY = "canary-7d41e0b9"


@pytest.fixture()
def leaky(tmp_path):
    root = tmp_path / "leaky"
    (root / "pipelines" / "leak").mkdir(parents=True)
    (root / "custom").mkdir()
    (root / "metadata.yaml").write_text("project_uuid: leaky\n")
    (root / "pipelines" / "leak" / "metadata.yaml").write_text(
        "blocks:\n- {uuid: reads, type: custom, upstream_blocks: []}\n"
        "- {uuid: fails, type: custom, upstream_blocks: [reads]}\n"
    )
    (root / "custom" / "reads.py").write_text(
        "from mage_ai.data_preparation.shared.secrets import get_secret_value\n\n"
        "@custom\ndef reads(*args, **kwargs):\n    token = get_secret_value('LEAKY_TOKEN')\n"
        "    print(f'using {token}')\n    return {'header': f'Bearer {token}'}\n"
    )
    (root / "custom" / "fails.py").write_text(
        "@custom\ndef fails(auth, *args, **kwargs):\n    raise PermissionError(f\"refused: {auth['header']}\")\n"
    )
    return root


def test_a_canary_secret_reaches_no_log_state_or_artifact(prefect_server, leaky):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, LogFilter, LogFilterFlowRunId

    done = mage_prefect("run", leaky, "leak", env={**os.environ, "LEAKY_TOKEN": CANARY})
    assert done.returncode == 1, done.stdout + done.stderr  # the failing block fails the run
    assert CANARY not in done.stdout + done.stderr and "refused: Bearer ***" in done.stdout + done.stderr
    run_id = done.stdout.split("(flow run ", 1)[1].split(")", 1)[0]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
        artifacts = client.read_artifacts()
    texts = [log.message for log in logs] + [run.state.message or ""]
    texts += [task.state.message or "" for task in tasks] + [str(artifact.data) for artifact in artifacts]
    assert logs and not [text for text in texts if CANARY in text]
    assert any("using ***" in log.message for log in logs)
    stored = mage_prefect("output", leaky, "leak", "reads", "--format", "json", env=dict(os.environ))
    assert CANARY in stored.stdout  # the block's own output is the user's data, stored as returned

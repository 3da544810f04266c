"""The outputs artifact: a run's block outputs on its page in the Prefect UI, one table whose key
gives each pipeline a version history on the Artifacts page."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from prefect.states import State

from .handoff import BlockResult
from .redaction import redact


def artifact_key(pipeline_key: str) -> str:
    """Artifact keys take lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{pipeline_key.lower()}-outputs")


def send_outputs_artifact(
    pipeline_key: str,
    states: dict[str, State],
    results: dict[str, object],
    location: str | Path,
    flow_run_id: str,
    logger,
) -> None:
    """Send the table from a thread of its own, so the run does not wait for the API (tens of ms);
    Python waits for the thread before the process exits."""
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.context import SettingsContext

    rows = [_row(name, state, results[name]) for name, state in states.items()]
    artifact = ArtifactCreate(
        key=artifact_key(pipeline_key),
        type="table",
        data=json.dumps(rows),
        description=f"Block outputs of pipeline `{pipeline_key}`, stored under `{location}`",
        flow_run_id=flow_run_id,
    )
    settings = SettingsContext.get().model_copy()  # the API to use, without the run's own (closing) client
    threading.Thread(target=_send, args=(artifact, settings, logger), name="mage-prefect-artifact").start()


def _row(name: str, state: State, result: object) -> dict[str, str]:
    stored = isinstance(result, BlockResult)
    return {
        "block": name,
        "state": state.name,
        "outputs": redact("\n".join(result.previews)) if stored else "",
        "stored as": "\n".join(result.keys) if stored else "",
    }


def _send(artifact, settings, logger) -> None:
    from prefect.client.orchestration import get_client

    try:
        with settings, get_client(sync_client=True) as client:
            client.create_artifact(artifact)
    except Exception as exc:  # the outputs are stored and published: only their summary is missing
        logger.warning(f"the block outputs artifact was not created: {type(exc).__name__}: {exc}")

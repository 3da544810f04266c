"""The outputs artifact: a run's block outputs on its page in the Prefect UI, one table whose key
gives each pipeline a version history on the Artifacts page; a table of each DataFrame output's
first rows, as Mage shows a block's output; and a table of what each chart block draws."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from prefect.states import State

from .charts import chart_rows
from .handoff import BlockResult
from .project.models import Chart
from .redaction import redact

MAX_TABLES = 50  # DataFrame previews per run
SHOWN_CELL = 200  # characters of a cell in a DataFrame preview


def artifact_key(pipeline_key: str, what: str = "outputs") -> str:
    """The key of the pipeline's artifact `what`: keys take lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{pipeline_key}-{what}".lower())


def send_outputs_artifact(
    pipeline_key: str,
    states: dict[str, State],
    results: dict[str, object],
    location: str | Path,
    flow_run_id: str,
    logger,
    charts: tuple[Chart, ...] = (),
) -> None:
    """Send the table from a thread of its own, so the run does not wait for the API (tens of ms);
    the process waits for the thread before it exits."""
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
    artifacts = [
        artifact,
        *_tables(pipeline_key, results, flow_run_id),
        *_charts(pipeline_key, charts, results, flow_run_id, logger),
    ]
    settings = SettingsContext.get().model_copy()  # the API to use, without the run's own (closing) client
    thread = threading.Thread(target=_send, args=(artifacts, settings, logger), name="mage-prefect-artifact")
    thread.start()
    # joined when the interpreter starts shutting down, before Prefect's event worker drains (its
    # exit hook was registered earlier, and these run last-registered first): the artifact's event
    # is sent, where a thread still running at shutdown could not start an event worker
    threading._register_atexit(thread.join)


def _row(name: str, state: State, result: object) -> dict[str, str]:
    stored = isinstance(result, BlockResult)
    return {
        "block": name,
        "state": state.name,
        "outputs": redact("\n".join(result.previews)) if stored else "",
        "stored as": "\n".join(result.keys) if stored else "",
    }


def _tables(pipeline_key: str, results: dict[str, object], flow_run_id: str) -> list:
    """A table artifact per DataFrame output (its first rows, masked), as Mage shows block outputs;
    at most MAX_TABLES a run."""
    from prefect.client.schemas.actions import ArtifactCreate

    tables = []
    for name, result in results.items():
        if not isinstance(result, BlockResult):
            continue
        for index, rows in enumerate(result.tables):
            if rows is not None and len(tables) < MAX_TABLES:
                # masked before shortened, so no secret's beginning survives a cut
                masked = [{redact(column): redact(cell)[:SHOWN_CELL] for column, cell in row.items()} for row in rows]
                tables.append(
                    ArtifactCreate(
                        key=artifact_key(pipeline_key, f"{name}-output-{index}"),
                        type="table",
                        data=json.dumps(masked),
                        description=redact(f"`{name}` output {index}: {result.previews[index]}; its first rows"),
                        flow_run_id=flow_run_id,
                    )
                )
    return tables


def _charts(pipeline_key: str, charts: tuple[Chart, ...], results: dict[str, object], flow_run_id: str, logger) -> list:
    """A table artifact per chart whose first upstream block ran: the data Mage's chart draws."""
    from prefect.client.schemas.actions import ArtifactCreate

    tables = []
    for chart in charts:
        source = results.get(chart.upstream_blocks[0]) if chart.upstream_blocks else None
        if not isinstance(source, BlockResult) or not source.keys:
            continue
        try:
            outputs = source.peek()
            rows = chart_rows(chart.configuration, outputs[0]) if outputs else None
        except Exception as exc:  # as in Mage, a chart that cannot be drawn fails nothing else
            logger.warning(f"chart '{chart.uuid}' was not drawn: {type(exc).__name__}: {redact(str(exc))}")
            continue
        if rows is None:
            continue
        kind = chart.configuration.get("chart_type")
        tables.append(
            ArtifactCreate(
                key=artifact_key(pipeline_key, f"{chart.uuid}-chart"),
                type="table",
                data=json.dumps([{redact(str(name)): _shown(cell) for name, cell in row.items()} for row in rows]),
                description=redact(f"Mage chart `{chart.uuid}` ({kind}) of `{source.name}`: the data it draws"),
                flow_run_id=flow_run_id,
            )
        )
    return tables


def _shown(cell: object) -> object:
    """A chart cell: numbers as they are, anything else as masked text."""
    if isinstance(cell, bool | int | float) and cell == cell:  # NaN is not JSON
        return cell
    if hasattr(cell, "item"):  # a numpy scalar
        return _shown(cell.item())
    return redact(str(cell))[:SHOWN_CELL]


def _send(artifacts, settings, logger) -> None:
    from prefect.client.orchestration import get_client

    try:
        with settings, get_client(sync_client=True) as client:
            for artifact in artifacts:
                client.create_artifact(artifact)
    except Exception as exc:  # the outputs are stored and published: only their summary is missing
        logger.warning(f"the block outputs artifact was not created: {type(exc).__name__}: {exc}")

"""What one pipeline run gives its blocks (RunContext), built from the flow's parameters the way a
Mage trigger run builds its variables, and what the mage_ai shim may ask of the orchestrator."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ..project.errors import InvalidRequest
from ..project.models import Pipeline, Project, Trigger
from ..project.parameters import RunOptions, as_utc


class RunServices(Protocol):
    """What block code reaches through the shim beyond its own run (`get_variable`, `trigger_pipeline`
    without a deployment): the layer that drives flows provides it, so the runtime never imports it."""

    def outputs(self, pipeline: str, block: str, run: str) -> list[Any]:
        """Every stored output of `block` of pipeline `pipeline` (a key or a uuid) in run `run`."""

    def run_pipeline(self, pipeline: str, variables: dict[str, Any] | None) -> tuple[str, Any]:
        """Run pipeline `pipeline` here, as a subflow; its flow run id and final Prefect state."""

    def run_dbt(self, args: list[str], project_dir: Path, profiles_dir: Path) -> Any:
        """Run one dbt command (a dbt block's) through Prefect's dbt integration; dbt's result."""


class Halt:
    """Set by the first block that fails for good: blocks that have not started do not start.

    Pickled, for a block run in another process (a Dask or Ray worker), as its state at that moment;
    the flow sets the original when it sees a block fail there.
    """

    def __init__(self, is_set: bool = False):
        self._event = threading.Event()
        if is_set:
            self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __reduce__(self):
        return Halt, (self.is_set(),)


@dataclass(frozen=True)
class RunContext:
    """What one pipeline run gives every block: variables, dates and identity."""

    pipeline_uuid: str
    repo_path: Path
    root_path: Path
    execution_date: datetime
    variables: dict[str, Any] = field(default_factory=dict)
    env: str = field(default_factory=lambda: os.environ.get("ENV", "dev"))
    event: dict[str, Any] = field(default_factory=dict)
    pipeline_run_id: str | None = None
    trigger_name: str | None = None
    results_location: str | Path | None = None  # a folder or an s3:// URL
    sensor_interval: float = 60.0
    skip_sensors: bool = False
    schedule_interval: str | None = None  # of the time trigger whose deployment started the run
    # Set by the first block that fails for good, unless the run allows blocks to fail (then None):
    # blocks that have not started yet do not start, as in Mage.
    halt: Halt | None = None
    services: RunServices | None = None
    incremental: bool = False  # blocks whose fingerprint is unchanged are not executed
    refresh: frozenset[str] = frozenset()  # … except these


@dataclass(frozen=True)
class RunOrigin:
    """Where a run comes from: its Prefect flow run, and the deployment (Mage trigger) that started it."""

    run_id: str
    scheduled_time: datetime | None = None  # the flow run's, the default execution date
    trigger_name: str | None = None  # the deployment's name; None: not a deployment run
    trigger: Trigger | None = None  # the pipeline's trigger of that name, if any


def run_context(
    project: Project,
    pipeline: Pipeline,
    variables: dict[str, Any],
    options: RunOptions,
    origin: RunOrigin,
    results: str | Path,
    services: RunServices | None = None,
) -> RunContext:
    """The run's context, with Mage's variables: the flow's own, then runtime variables, then an event
    payload's `variables`; the payload's other keys fill in what is not set yet."""
    runtime = dict(options.runtime_variables or {})
    event = event_payload(runtime)
    runtime.pop("event", None)
    merged = {**variables, **runtime, **(event.get("variables") or {})}
    for name, value in event.items():  # Mage exposes other payload keys as kwargs where not already set
        if name != "variables":
            merged.setdefault(name, value)
    trigger = origin.trigger
    return RunContext(
        pipeline_uuid=pipeline.uuid,
        repo_path=pipeline.repo_path,
        root_path=project.root,
        execution_date=as_utc(options.execution_date or origin.scheduled_time or datetime.now().astimezone()),
        variables=merged,
        env="prod" if origin.trigger_name else str(merged.get("env") or os.environ.get("ENV", "dev")),
        event=event,
        pipeline_run_id=origin.run_id,
        trigger_name=origin.trigger_name,
        schedule_interval=trigger.schedule_interval if trigger and trigger.schedule_type == "time" else None,
        sensor_interval=project.settings.sensor_interval,
        skip_sensors=options.skip_sensors,
        results_location=results,
        halt=None if options.allow_blocks_to_fail else Halt(),
        services=services,
        incremental=project.settings.incremental if options.incremental is None else options.incremental,
        refresh=frozenset(options.refresh or ()),
    )


def event_payload(runtime_variables: dict[str, Any]) -> dict[str, Any]:
    """The `event` runtime variable (an event trigger's payload), checked: a mapping whose
    `variables`, if any, are a mapping too; {} when there is none."""
    event = runtime_variables.get("event")
    if event is None:
        return {}
    if not isinstance(event, dict) or not isinstance(event.get("variables") or {}, dict):
        raise InvalidRequest(
            f"the runtime variable 'event' must be a mapping (an event payload, whose 'variables' "
            f"are a mapping too), not {event!r}"
        )
    return event

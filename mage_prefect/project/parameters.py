"""The parameters of a pipeline's flow, defined once: the pipeline's declared variables, then the run
options mage-prefect adds. The flow's signature, `validate`, the Python API and the deployments
compiler all read them from here."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, get_type_hints

from .models import Pipeline


@dataclass(frozen=True)
class RunOptions:
    """What every pipeline flow takes next to its variables (Mage's `mage run` options)."""

    execution_date: datetime | None = None  # default: the flow run's scheduled time
    runtime_variables: dict | None = None  # variables the pipeline does not declare; `event`: a payload
    skip_sensors: bool = False
    allow_blocks_to_fail: bool = False
    incremental: bool | None = None  # skip unchanged blocks (None: the project's mage_prefect.incremental)
    refresh: list[str] | None = None  # blocks an incremental run executes anyway


RUN_OPTIONS = tuple(option.name for option in fields(RunOptions))
PREFECT_CALL_OPTIONS = ("wait_for", "return_state")  # a Prefect flow call takes these itself
RESERVED_NAMES = RUN_OPTIONS + PREFECT_CALL_OPTIONS  # no pipeline variable may take these names


def flow_signature(pipeline: Pipeline) -> inspect.Signature:
    """Keyword parameters: the pipeline's variables (their values as defaults), then the run options."""
    keyword, hints = inspect.Parameter.KEYWORD_ONLY, get_type_hints(RunOptions)
    variables = [inspect.Parameter(str(name), keyword, default=value) for name, value in pipeline.variables.items()]
    options = [
        inspect.Parameter(option.name, keyword, default=option.default, annotation=hints[option.name])
        for option in fields(RunOptions)
    ]
    return inspect.Signature(variables + options)


def split_variables(pipeline: Pipeline, variables: Mapping[str, Any]) -> tuple[dict, dict]:
    """Variables the pipeline declares (flow parameters) and the others (runtime variables, as
    `mage run --runtime-vars` passes them)."""
    declared = {name: value for name, value in variables.items() if name in pipeline.variables}
    return declared, {name: value for name, value in variables.items() if name not in pipeline.variables}


def flow_parameters(pipeline: Pipeline, variables: Mapping[str, Any], options: RunOptions = RunOptions()) -> dict:
    """The parameters of a flow call: declared variables as themselves, the others merged into
    `runtime_variables` (the options' own runtime variables win)."""
    declared, extra = split_variables(pipeline, variables)
    runtime = {**extra, **(options.runtime_variables or {})}
    return {**declared, **asdict(options), "runtime_variables": runtime or None}


def parameters_of_call(parameters: Mapping[str, Any]) -> tuple[dict, RunOptions]:
    """A flow call's parameters as (the pipeline's variables, the run options)."""
    variables = {name: value for name, value in parameters.items() if name not in RUN_OPTIONS}
    return variables, RunOptions(**{name: parameters[name] for name in RUN_OPTIONS if name in parameters})


def as_utc(value: datetime | str) -> datetime:
    """An aware UTC date-time; a naive one (or an ISO string without offset) is UTC, as in Mage."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

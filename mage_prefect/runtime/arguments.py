"""Mage's argument shaping: outputs ↔ positional inputs, and the kwargs of a trigger run."""

from __future__ import annotations

import copy
from typing import Any

from ..frames import frame_library, is_pandas
from ..project.models import Block
from .context import RunContext
from .intervals import interval_kwargs

IMMUTABLE = (str, bytes, int, float, complex, bool, type(None), frozenset)


def split_outputs(value: Any) -> list[Any]:
    """A block's return value as Mage's outputs: None → none, list/tuple → one per item, else one."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def shape_input(outputs: list[Any]) -> Any:
    """What a downstream block receives for one upstream: the value, a list of values, or []."""
    if len(outputs) == 1:
        return outputs[0]
    return list(outputs)


def own_copy(value: Any) -> Any:
    """A copy the block may mutate freely; DataFrames are copied lazily via pandas copy-on-write."""
    if isinstance(value, IMMUTABLE):
        return value
    if is_pandas(value):
        return value.copy(deep=not _pandas_copy_on_write())
    if frame_library(value, ("DataFrame", "Series", "LazyFrame")) == "polars":
        return value  # polars frames are immutable
    try:
        return copy.deepcopy(value)
    except Exception:  # clients, connections, locks: shared, as Mage cannot copy them either
        return value


def _pandas_copy_on_write() -> bool:
    import pandas

    return int(pandas.__version__.split(".")[0]) >= 3 or pandas.get_option("mode.copy_on_write") is True


def block_kwargs(block: Block, context: RunContext, attempt: int, logger: Any) -> dict[str, Any]:
    """The **kwargs of a Mage trigger run (PipelineRun.get_variables + Block.enrich_global_vars)."""
    kwargs = copy.deepcopy(context.variables)
    execution_date = context.execution_date
    kwargs.update(
        ds=execution_date.strftime("%Y-%m-%d"),
        hr=execution_date.strftime("%H"),
        env=context.env,
        event=copy.deepcopy(context.event),
        execution_date=execution_date,
        pipeline_run_id=context.pipeline_run_id,
        trigger_name=context.trigger_name,
    )
    kwargs.update(interval_kwargs(context.variables, execution_date, context.schedule_interval))
    kwargs["retry"] = {"attempts": attempt}
    kwargs["configuration"] = copy.deepcopy(block.configuration)
    kwargs.setdefault("context", {})
    kwargs.update(
        pipeline_uuid=context.pipeline_uuid,
        block_uuid=block.uuid,
        repo_path=str(context.repo_path),
        logger=logger,
    )
    return kwargs

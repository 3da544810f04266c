"""Global data products: a product pipeline's stored outputs, and whether they are fresh enough to
hand over without running the pipeline again (Mage's `outdated_after`)."""

from __future__ import annotations

from typing import Any

from ..project.models import Pipeline
from .store import OutputStore


def fresh_outputs(store: OutputStore, source: Pipeline, max_age: float | None) -> dict[str, list[Any]] | None:
    """The product pipeline's latest outputs per block while fresh (every block stored, none older
    than `max_age` seconds; None: any age), else None: run the pipeline first."""
    if not store.fresh(source.key, [block.uuid for block in source.blocks], max_age):
        return None
    return latest_outputs(store, source)


def latest_outputs(store: OutputStore, source: Pipeline) -> dict[str, list[Any]]:
    """Each block's latest stored outputs, of the blocks that stored any."""
    return {
        block.uuid: store.load(source.key, block.uuid) for block in source.blocks if store.has(source.key, block.uuid)
    }

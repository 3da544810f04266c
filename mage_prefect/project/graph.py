"""The block DAG of a pipeline: order, cycles, descendants and rendering (no Prefect here)."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from .errors import InvalidRequest
from .models import Block, Pipeline


def _sorter(pipeline: Pipeline) -> TopologicalSorter:
    sorter: TopologicalSorter = TopologicalSorter()
    for block in pipeline.blocks:
        sorter.add(block.uuid, *block.upstream_blocks)
    return sorter


def find_cycle(pipeline: Pipeline) -> list[str] | None:
    """The uuids of one dependency cycle (first repeated at the end), or None."""
    try:
        tuple(_sorter(pipeline).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None


def topological_order(pipeline: Pipeline) -> list[Block]:
    """Blocks so that every block comes after its upstreams; ties keep file order."""
    position = {block.uuid: index for index, block in enumerate(pipeline.blocks)}
    sorter = _sorter(pipeline)
    sorter.prepare()
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered.extend(ready)
        sorter.done(*ready)
    return [pipeline.block(uuid) for uuid in ordered]


def render_text(pipeline: Pipeline) -> str:
    """One line per block in run order: `uuid (type) <- upstreams`."""
    lines = [f"pipeline {pipeline.key}"]
    for block in topological_order(pipeline):
        upstream = f"  <- {', '.join(block.upstream_blocks)}" if block.upstream_blocks else ""
        lines.append(f"  {block.run_name} ({block.type}){upstream}")
    return "\n".join(lines)


def render_mermaid(pipeline: Pipeline) -> str:
    """A mermaid flowchart of the pipeline, for READMEs and PR descriptions."""
    ids = {block.uuid: f"b{index}" for index, block in enumerate(pipeline.blocks)}
    lines = ["flowchart TD"]
    for block in pipeline.blocks:
        lines.append(f'    {ids[block.uuid]}["{block.run_name}<br/><i>{block.type}</i>"]')
    for block in pipeline.blocks:
        for upstream in block.upstream_blocks:
            lines.append(f"    {ids[upstream]} --> {ids[block.uuid]}")
    return "\n".join(lines)


def dynamic_children(pipeline: Pipeline) -> set[str]:
    """Blocks that run once per item of a dynamic upstream (Mage's dynamic children).

    A block is a dynamic child when an upstream is a dynamic parent, or a dynamic child whose
    output is not reduced (`reduce_output: true` collapses the fan-out for its downstream).
    """
    children: set[str] = set()
    for block in topological_order(pipeline):
        if fanned_upstreams(pipeline, block, children):
            children.add(block.uuid)
    return children


def fanned_upstreams(pipeline: Pipeline, block: Block, children: set[str]) -> list[str]:
    """The upstreams `block` runs once per item of: dynamic parents and unreduced dynamic children."""
    return [
        uuid
        for uuid in dict.fromkeys(block.upstream_blocks)
        if pipeline.block(uuid).dynamic or (uuid in children and not pipeline.block(uuid).reduce_output)
    ]


def is_chain(pipeline: Pipeline) -> bool:
    """True when no two blocks can ever run at the same time (each is ready alone)."""
    sorter = _sorter(pipeline)
    sorter.prepare()
    while sorter.is_active():
        ready = sorter.get_ready()
        if len(ready) > 1:
            return False
        sorter.done(*ready)
    return True


def lineage(pipeline: Pipeline, uuid: str, direction: str) -> set[str]:
    """`uuid` and every block above it (`direction="up"`) or below it (`"down"`)."""
    pipeline.block(uuid)  # a clear error for an unknown uuid
    edges: dict[str, set[str]] = {block.uuid: set() for block in pipeline.blocks}
    for block in pipeline.blocks:
        for upstream in block.upstream_blocks:
            if direction == "up":
                edges[block.uuid].add(upstream)
            else:
                edges[upstream].add(block.uuid)
    found, pending = {uuid}, [uuid]
    while pending:
        for neighbour in edges[pending.pop()] - found:
            found.add(neighbour)
            pending.append(neighbour)
    return found


def selected_blocks(
    pipeline: Pipeline, *, block: str | None = None, start: str | None = None, end: str | None = None
) -> set[str]:
    """The blocks a partial run executes: `block` alone; or `start` and everything below it, up to
    `end` and everything above it (both: the blocks between)."""
    if block is not None:
        if start is not None or end is not None:
            raise InvalidRequest("a partial run takes --block alone, or --from and/or --to, not both")
        return {pipeline.block(block).uuid}
    selected = {b.uuid for b in pipeline.blocks}
    if start is not None:
        selected &= lineage(pipeline, start, "down")
    if end is not None:
        selected &= lineage(pipeline, end, "up")
    if not selected:
        raise InvalidRequest(
            f"no block of pipeline '{pipeline.key}' is both below '{start}' and above '{end}'; "
            f"--to names a block downstream of --from (see `mage-prefect graph`)"
        )
    return selected


def partial_pipeline(pipeline: Pipeline, execute: set[str], reuse_all: bool) -> tuple[Pipeline, set[str]]:
    """The pipeline cut down to the blocks to execute plus the blocks whose stored outputs are
    reused: the upstreams they need, or with `reuse_all` all others. Reused blocks lose their own
    upstreams (they are not run). Returns the cut pipeline and the reused blocks."""
    if reuse_all:
        reused = {block.uuid for block in pipeline.blocks} - execute
    else:
        reused = {
            uuid for block in pipeline.blocks if block.uuid in execute for uuid in block.upstream_blocks
        } - execute
    unusable = sorted(reused & dynamic_children(pipeline))
    if unusable:
        raise InvalidRequest(
            f"block(s) {', '.join(unusable)} of pipeline '{pipeline.key}' are dynamic children, whose "
            f"stored outputs cannot be reused: run their dynamic parent too"
        )
    blocks = tuple(
        block if block.uuid in execute else block.model_copy(update={"upstream_blocks": ()})
        for block in pipeline.blocks
        if block.uuid in execute | reused
    )
    return pipeline.model_copy(update={"blocks": blocks}), reused

"""graph.py: run order, cycles and rendering of a pipeline's block DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from mage_prefect.project.graph import (
    find_cycle,
    lineage,
    render_mermaid,
    render_text,
    selected_blocks,
    topological_order,
)
from mage_prefect.project.models import Block, Pipeline, SourceRef

SOURCE = SourceRef(file=Path("pipelines/p/metadata.yaml"))


def pipeline(*blocks: tuple) -> Pipeline:
    """A pipeline from (uuid, type, upstreams[, replicated_block]) tuples, in file order."""
    return Pipeline(
        uuid="p",
        repo_path=Path("."),
        source=SOURCE,
        blocks=tuple(
            Block(uuid=uuid, type=kind, upstream_blocks=tuple(up), replicated_block=(rest or [None])[0], source=SOURCE)
            for uuid, kind, up, *rest in blocks
        ),
    )


# file order deliberately differs from both dependency order and alphabetical order
FAN = pipeline(
    ("join", "data_exporter", ["zeta", "mid"]),
    ("zeta", "transformer", ["start"]),
    ("start", "data_loader", []),
    ("alpha", "transformer", ["start"]),
    ("mid", "transformer", ["alpha"]),
)


def test_topological_order_puts_upstreams_first_and_keeps_file_order_for_ties():
    assert [b.uuid for b in topological_order(FAN)] == ["start", "zeta", "alpha", "mid", "join"]


def test_independent_roots_keep_file_order():
    roots = pipeline(("b", "data_loader", []), ("c", "data_loader", []), ("a", "data_loader", []))
    assert [b.uuid for b in topological_order(roots)] == ["b", "c", "a"]


def test_no_cycle_in_a_dag():
    assert find_cycle(FAN) is None


def test_find_cycle_returns_the_cycle_with_its_first_block_repeated():
    cyclic = pipeline(
        ("load", "data_loader", []),
        ("a", "transformer", ["load", "c"]),
        ("b", "transformer", ["a"]),
        ("c", "transformer", ["b"]),
    )
    cycle = find_cycle(cyclic)
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["a", "b", "c"]
    # consecutive entries are real edges of the cycle (in one direction or the other)
    edges = {(up, b.uuid) for b in cyclic.blocks for up in b.upstream_blocks}
    pairs = list(zip(cycle, cycle[1:]))
    assert all(pair in edges for pair in pairs) or all(pair[::-1] in edges for pair in pairs)


def test_a_block_depending_on_itself_is_a_cycle():
    assert find_cycle(pipeline(("a", "transformer", ["a"]))) == ["a", "a"]


def test_render_text_lists_blocks_in_run_order_with_their_upstreams():
    replicated = pipeline(
        ("load", "data_loader", []),
        ("clean", "transformer", ["load"]),
        ("clean_again", "transformer", ["load"], "clean"),
        ("export", "data_exporter", ["clean", "clean_again"]),
    )
    assert render_text(replicated) == "\n".join(
        [
            "pipeline p",
            "  load (data_loader)",
            "  clean (transformer)  <- load",
            "  clean_again:clean (transformer)  <- load",
            "  export (data_exporter)  <- clean, clean_again",
        ]
    )


def test_render_mermaid_has_a_node_per_block_and_an_edge_per_upstream():
    small = pipeline(
        ("training/xgboost", "custom", ["load"]),
        ("load", "data_loader", []),
    )
    assert render_mermaid(small) == "\n".join(
        [
            "flowchart TD",
            '    b0["training/xgboost<br/><i>custom</i>"]',
            '    b1["load<br/><i>data_loader</i>"]',
            "    b1 --> b0",
        ]
    )


def test_lineage_goes_up_or_down_the_dag():
    # FAN: start -> zeta -> join, start -> alpha -> mid -> join
    assert lineage(FAN, "alpha", "up") == {"alpha", "start"}
    assert lineage(FAN, "alpha", "down") == {"alpha", "mid", "join"}


def test_partial_runs_select_a_block_a_tail_a_head_or_the_blocks_between():
    assert selected_blocks(FAN, block="mid") == {"mid"}
    assert selected_blocks(FAN, start="alpha") == {"alpha", "mid", "join"}
    assert selected_blocks(FAN, end="mid") == {"start", "alpha", "mid"}
    assert selected_blocks(FAN, start="alpha", end="join") == {"alpha", "mid", "join"}
    with pytest.raises(ValueError, match="no block of pipeline 'p' is both below 'zeta' and above 'mid'"):
        selected_blocks(FAN, start="zeta", end="mid")  # mid is not below zeta: nothing to run is an error
    with pytest.raises(ValueError, match="--block alone"):
        selected_blocks(FAN, block="mid", start="alpha")

"""Mage's static rules for block code, shared by `validate` (before a run) and the runtime (when a
block runs): its arity rule and SQL blocks' `{{ df_N }}` references; and the code as validate reads it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .errors import Diagnostic
from .models import Block
from .textfile import read_text

DF_REFERENCE = re.compile(r"\{\{\s*df_(\d+)\s*\}\}")


def arity_problem(uuid: str, positional: int, has_varargs: bool, upstream_count: int) -> str | None:
    """Mage's `_validate_execution` rule: one positional parameter per upstream block."""
    if positional > upstream_count:
        return (
            f"block '{uuid}' takes {positional} positional argument(s) but has {upstream_count} "
            f"upstream block(s); it may be missing upstream dependencies"
        )
    if positional < upstream_count and not has_varargs:
        return (
            f"block '{uuid}' takes {positional} positional argument(s) but has {upstream_count} "
            f"upstream block(s); it has too many upstream dependencies"
        )
    return None


def df_reference_problems(source: str, upstream_count: int, uuid: str) -> list[tuple[int, str]]:
    """(offset, message) of each `{{ df_N }}` that names no upstream block."""
    return [
        (
            match.start(),
            f"{match.group(0)} names upstream {match.group(1)}, but block '{uuid}' has "
            f"{upstream_count} upstream block(s)",
        )
        for match in DF_REFERENCE.finditer(source)
        if not 1 <= int(match.group(1)) <= upstream_count
    ]


def block_code_text(block: Block) -> tuple[str, Path] | Diagnostic | None:
    """The block's code and the file diagnostics about it name (the metadata.yaml for inline
    `content`); a Diagnostic when the file cannot be read or decoded; None when it has neither
    (the loader already reported the missing file)."""
    if block.content is not None:
        return block.content, block.source.file
    if block.file is None:
        return None
    text = read_text(block.file, python=block.language == "python")
    return (text, block.file) if isinstance(text, str) else text


def position(source: str, offset: int) -> dict[str, int]:
    """The 1-based line and column of a character offset."""
    return {"line": source.count("\n", 0, offset) + 1, "column": offset - source.rfind("\n", 0, offset)}


def imported_modules(node: ast.AST) -> list[str]:
    """The absolute modules an `import` or `from … import` statement names (none for other nodes)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module]
    return []

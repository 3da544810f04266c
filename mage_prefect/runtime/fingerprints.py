"""A block's fingerprint, for incremental runs: what decides its outputs, as far as mage-prefect can
see it — its code and its add-ons', the project modules that code imports (transitively), its
configuration, the values of the variables its code names, and its upstreams' stored outputs."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project.block_checks import imported_modules
from ..project.models import Block
from .block_code import block_source

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_VARIABLES = frozenset({"logger", "retry", "configuration", "context"})  # kwargs that are not data
MAX_MODULES = 200  # imported project modules followed per block


@dataclass(frozen=True)
class BlockSignature:
    """What of a block is known before it runs."""

    digest: str  # its code, its add-ons' code, the project modules it imports, its configuration
    words: frozenset[str]  # the names in its code: a variable counts as read when its name is there


def block_signature(block: Block, add_ons: Sequence[Block], project: Path, repo: Path) -> BlockSignature:
    """The block's signature. Its imports resolve as in a run (the folder holding the project, and
    the project folders on PYTHONPATH); only modules inside the `project` folder are followed."""
    sources = [block_source(item)[0] for item in (block, *add_ons) if item.file is not None or item.content]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.encode())
    for path in _imported_files(sources, (project.parent, repo, project), project.resolve()):
        digest.update(str(path).encode() + path.read_bytes())
    digest.update(json.dumps(block.configuration, sort_keys=True, default=str).encode())
    return BlockSignature(digest.hexdigest(), frozenset(word for source in sources for word in WORD.findall(source)))


def fingerprint(signature: BlockSignature, kwargs: dict[str, Any], upstreams: Sequence[str]) -> str:
    """The fingerprint of one run of the block: its signature, the kwargs its code names (their
    values), and the identities of its upstreams' outputs."""
    read = {name: kwargs[name] for name in sorted(signature.words & kwargs.keys() - NOT_VARIABLES)}
    digest = hashlib.sha256(signature.digest.encode())
    digest.update(json.dumps(read, sort_keys=True, default=repr).encode())
    digest.update("\n".join(upstreams).encode())
    return digest.hexdigest()


def _imported_files(sources: Sequence[str], roots: Sequence[Path], project: Path) -> list[Path]:
    """The project's Python files the sources import, and the files those import."""
    found: dict[Path, None] = {}
    pending = list(sources)
    while pending and len(found) < MAX_MODULES:
        for name in _imports(pending.pop()):
            path = _resolve(name, roots)
            if path is not None and path not in found and path.is_relative_to(project):
                found[path] = None
                pending.append(path.read_text(errors="replace"))
    return sorted(found)


def _imports(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        modules = imported_modules(node)
        names += modules
        if isinstance(node, ast.ImportFrom) and modules:  # `from pkg import module` imports pkg.module
            names += [f"{modules[0]}.{alias.name}" for alias in node.names]
    return names


def _resolve(module: str, roots: Sequence[Path]) -> Path | None:
    parts = module.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate.resolve()
    return None

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


def fingerprint(signature: BlockSignature, kwargs: dict[str, Any], upstreams: Sequence[str]) -> str:
    """The fingerprint of one run of the block: its signature, the kwargs its code names (their
    values), and the identities of its upstreams' outputs."""
    read = {name: kwargs[name] for name in sorted(signature.words & kwargs.keys() - NOT_VARIABLES)}
    digest = hashlib.sha256(signature.digest.encode())
    digest.update(json.dumps(read, sort_keys=True, default=repr).encode())
    digest.update("\n".join(upstreams).encode())
    return digest.hexdigest()


class Signatures:
    """The signatures of the blocks of one flow build. Imports resolve as in a run (the folder
    holding the `project`, `repo`, and the project folders on PYTHONPATH); only modules inside the
    project folder are followed, each resolved and read once per build."""

    def __init__(self, project: Path, repo: Path):
        self._roots = (project.parent, repo, project)
        self._project = project.resolve()
        self._paths: dict[str, Path | None] = {}
        self._modules: dict[Path, tuple[bytes, list[str]]] = {}  # a module file: its bytes, its imports

    def of(self, block: Block, add_ons: Sequence[Block], source: str | None = None) -> BlockSignature:
        """`block`'s signature; `source`: its code, when already read."""
        sources = [
            source if item is block and source is not None else block_source(item)[0]
            for item in (block, *add_ons)
            if item.file is not None or item.content
        ]
        digest = hashlib.sha256()
        for text in sources:
            digest.update(text.encode())
        for path in self._imported_files(sources):
            digest.update(str(path).encode() + self._module(path)[0])
        digest.update(json.dumps(block.configuration, sort_keys=True, default=str).encode())
        return BlockSignature(digest.hexdigest(), frozenset(word for text in sources for word in WORD.findall(text)))

    def _imported_files(self, sources: Sequence[str]) -> list[Path]:
        """The project's Python files the sources import, and the files those import."""
        found: dict[Path, None] = {}
        pending = [_imports(source) for source in sources]
        while pending and len(found) < MAX_MODULES:
            for name in pending.pop():
                path = self._resolve(name)
                if path is not None and path not in found and path.is_relative_to(self._project):
                    found[path] = None
                    pending.append(self._module(path)[1])
        return sorted(found)

    def _module(self, path: Path) -> tuple[bytes, list[str]]:
        if path not in self._modules:
            data = path.read_bytes()
            self._modules[path] = data, _imports(data.decode(errors="replace"))
        return self._modules[path]

    def _resolve(self, module: str) -> Path | None:
        if module not in self._paths:
            self._paths[module] = _resolve(module, self._roots)
        return self._paths[module]


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

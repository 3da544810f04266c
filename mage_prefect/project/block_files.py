"""Where a block's code is: Mage's file resolution, confined to the project.

Mage looks at `configuration.file_source.path` (on a multi-project platform, relative to its root),
then `configuration.file_path`, then the default `<repo>/<type>s/<uuid>.<ext>`; a configured path
that names no file falls back to the next (mage_ai/shared/path_fixer.py add_absolute_path). Here
every candidate must stay inside the project root once `..` and symlinks are resolved: block code
from outside the project is an error and never executed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import Diagnostic
from .models import LANGUAGE_EXTENSIONS, type_directory
from .yamlfile import KeyPath, YamlDocument

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mage_prefect"}
CONFINED = "block files must be inside the project; copy the file into it"


class OutsideProject(Exception):
    """A configured or default block path that resolves outside the project root."""


class BlockFiles:
    """Resolves block files under one project root (the platform root on a multi-project platform)."""

    def __init__(self, root: Path):
        self.root = root
        self._files: list[Path] | None = None  # every file under the root, listed once, for Mage's search

    def find(
        self,
        doc: YamlDocument,
        key: KeyPath,
        uuid: str,
        block_type: str,
        language: str,
        configuration: dict[str, Any],
        repo_path: Path,
        platform: bool,
        into: list[Diagnostic],
    ) -> Path | None:
        """The block's file, or None with a diagnostic `into` the list."""
        configured = []
        source = configuration.get("file_source") or {}
        if platform and source.get("path"):
            configured.append(("file_source", "path", str(source["path"])))
        if configuration.get("file_path"):
            configured.append(("file_path", None, str(configuration["file_path"])))
        for name, sub_key, path in configured:
            where = key + ("configuration", name) + ((sub_key,) if sub_key else ())
            try:
                found = self._configured(path)
            except OutsideProject as exc:
                into.append(doc.diagnostic(where, f"block '{uuid}': {name} {path!r} {exc}", CONFINED))
                return None
            if found is not None:
                return found
            if name == "file_path":  # Mage falls back silently; a stale file_source.path is common and expected
                into.append(
                    doc.diagnostic(
                        where,
                        f"block '{uuid}': file_path {path!r} names no file in the project; "
                        "Mage falls back to the default path, and so does mage-prefect",
                        "fix file_path or remove it",
                        severity="warning",
                    )
                )
        default = repo_path / type_directory(block_type) / f"{uuid}.{LANGUAGE_EXTENSIONS.get(language, 'py')}"
        try:
            resolved = self._inside(default)
        except OutsideProject as exc:
            into.append(doc.diagnostic(key + ("uuid",), f"block '{uuid}': its default file {exc}", CONFINED))
            return None
        if resolved.is_file():
            return resolved
        tried = ", ".join([path for _, _, path in configured] + [_shown(default, self.root)])
        into.append(
            doc.diagnostic(
                key,
                f"block file for '{uuid}' not found (tried: {tried})",
                f"create {_shown(default, self.root)} or fix configuration.file_path",
            )
        )
        return None

    def _configured(self, configured: str) -> Path | None:
        """Mage's `add_absolute_path`, keeping only paths that exist (stale ones fall back)."""
        path = Path(configured)
        if path.is_absolute():
            return self._existing(path)
        parts = path.parts
        candidates = [self.root.joinpath(*parts[1:])] if parts and parts[0] == self.root.name and len(parts) > 1 else []
        candidates += [self.root / path, self.root / "dbt" / path]
        for candidate in candidates:
            found = self._existing(candidate)
            if found is not None:
                return found
        suffix = os.sep + os.path.normpath(configured)
        return next((self._inside(file) for file in self._all_files() if str(file).endswith(suffix)), None)

    def _existing(self, path: Path) -> Path | None:
        resolved = self._inside(path)
        return resolved if resolved.is_file() else None

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise OutsideProject(f"resolves to {resolved}, outside the project {self.root}")
        return resolved

    def _all_files(self) -> list[Path]:
        if self._files is None:
            self._files = []
            for folder, dirs, names in os.walk(self.root):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                self._files += [Path(folder) / name for name in sorted(names)]
        return self._files


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

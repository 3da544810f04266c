"""Read YAML files keeping the line and column of every key, for diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Diagnostic

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the 1-based (line, column) of each key path."""

    path: Path
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def diagnostic(self, key_path: KeyPath, message: str, hint: str = "", severity="error") -> Diagnostic:
        """A diagnostic pointing at `key_path`, or at its nearest located parent."""
        for depth in range(len(key_path), -1, -1):
            if key_path[:depth] in self.positions:
                line, column = self.positions[key_path[:depth]]
                break
        else:
            line, column = None, None
        return Diagnostic(
            file=self.path,
            line=line,
            column=column,
            key_path=format_key_path(key_path),
            message=message,
            hint=hint,
            severity=severity,
        )


def format_key_path(key_path: KeyPath) -> str:
    text = ""
    for part in key_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_yaml(path: Path, text: str) -> YamlDocument | Diagnostic:
    """Parse `text` (the content of `path`); a syntax error becomes a Diagnostic."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        return Diagnostic(
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            message=f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            hint="fix the YAML syntax (indentation, quoting, ':' after keys)",
        )
    finally:
        loader.dispose()
    positions: dict[KeyPath, tuple[int, int]] = {}
    if node is not None:
        _record_positions(node, (), positions)
    return YamlDocument(path=path, data=data, positions=positions)


def read_yaml(path: Path, text: str | None = None) -> YamlDocument | Diagnostic:
    """Read and parse a YAML file (or already-rendered `text` of it)."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            return Diagnostic(file=path, message=f"cannot read file: {exc.strerror}")
    return parse_yaml(path, text)


def _record_positions(node: yaml.Node, key_path: KeyPath, out: dict) -> None:
    out.setdefault(key_path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = key_path + (key_node.value,)
            out[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _record_positions(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_positions(item, key_path + (index,), out)

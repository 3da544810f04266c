"""Read YAML files keeping the line and column of every key, for diagnostics.

Parsing is bounded: files are size-limited (textfile.py), libyaml limits nesting depth, and a walk
over the node graph before anything is built refuses recursive aliases and alias expansion beyond
MAX_VALUES ("billion laughs"). Duplicate keys are kept as Mage keeps them (the last wins) and
recorded, for a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Diagnostic
from .textfile import read_text

KeyPath = tuple[str | int, ...]
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 4x faster, and bounds nesting depth
MAX_VALUES = 500_000  # values a document may expand to through aliases (a 1,000-block pipeline has ~40,000)
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the 1-based (line, column) of each key path."""

    path: Path
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    duplicates: tuple[tuple[Any, int, int, int], ...] = ()  # (key, line, column, line of its first use)

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
    """Parse `text` (the content of `path`); a syntax error or a bomb becomes a Diagnostic."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(path=path, data=None)
        walk = _Walk(path, loader)
        problem = walk.run(node)
        if problem is not None:
            return problem
        data = loader.construct_document(node)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a tagged scalar: `!!int abc`, `!!bool maybe`
        return Diagnostic(
            file=path,
            message=f"invalid YAML: a value its tag cannot make ({type(exc).__name__}: {exc})",
            hint="remove the !!tag or fix the value it tags",
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        hint = (
            "nesting this deep is not a Mage file; flatten it"
            if "depth" in problem
            else "fix the YAML syntax (indentation, quoting, ':' after keys)"
        )
        return Diagnostic(
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            message=f"invalid YAML: {problem}",
            hint=hint,
        )
    except RecursionError:  # the pure-Python parser, where libyaml is missing
        return Diagnostic(file=path, message="invalid YAML: nesting is too deep", hint="flatten the document")
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, positions=walk.positions, duplicates=tuple(walk.duplicates))


class _Walk:
    """One pass over the composed node graph, before any value is built and once its aliases are
    known to be safe (_alias_problem): positions of key paths and duplicate keys."""

    def __init__(self, path: Path, loader):
        self.path, self.loader = path, loader
        self.positions: dict[KeyPath, tuple[int, int]] = {}
        self.duplicates: list[tuple[Any, int, int, int]] = []

    def run(self, root: yaml.Node) -> Diagnostic | None:
        problem = _alias_problem(root)
        if problem is not None:
            return self._error(*problem)
        stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
        while stack:
            node, key_path = stack.pop()
            self.positions.setdefault(key_path, _position(node))
            if isinstance(node, yaml.SequenceNode):
                stack.extend((item, key_path + (index,)) for index, item in reversed(list(enumerate(node.value))))
            elif isinstance(node, yaml.MappingNode):
                stack.extend(reversed(self._children(node, key_path)))
        return None

    def _children(self, node: yaml.MappingNode, key_path: KeyPath) -> list[tuple[yaml.Node, KeyPath]]:
        children, seen = [], {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *defaults`: the merged keys are this mapping's
                children.append((value_node, key_path))
                continue
            key = self._key(key_node)
            if key in seen:
                self.duplicates.append((key, *_position(key_node), seen[key]))
            seen[key] = key_node.start_mark.line + 1
            self.positions[key_path + (key,)] = _position(key_node)
            children.append((value_node, key_path + (key,)))
        return children

    def _key(self, key_node: yaml.Node) -> Any:
        """The key as the constructor will build it (`1:` is the int 1), or its text if unhashable."""
        if not isinstance(key_node, yaml.ScalarNode):
            return f"<{key_node.id} key at line {key_node.start_mark.line + 1}>"
        return self.loader.construct_object(key_node)

    def _error(self, node: yaml.Node, problem: str, hint: str) -> Diagnostic:
        line, column = _position(node)
        return Diagnostic(file=self.path, line=line, column=column, message=f"invalid YAML: {problem}", hint=hint)


def _alias_problem(root: yaml.Node) -> tuple[yaml.Node, str, str] | None:
    """Where aliases make a document unbuildable, what is wrong and how to fix it: a recursive
    alias, or the innermost node they expand beyond MAX_VALUES values. Each node's expanded size
    is counted once, so a 'billion laughs' document is refused without expanding it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes being counted: an ancestor met again is a recursion
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _values(node))
        elif id(node) in open_nodes:
            return (
                node,
                "a recursive alias (an anchor used inside itself)",
                ("replace the alias with the values it should repeat"),
            )
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _values(node))
    if sizes[id(root)] <= MAX_VALUES:
        return None
    node = root
    while bigger := [child for child in _values(node) if sizes[id(child)] > MAX_VALUES]:
        node = bigger[0]
    return (
        node,
        f"aliases expand this document beyond {MAX_VALUES:,} values (a 'billion laughs' document?)",
        ("write the values out instead of nesting aliases"),
    )


def _values(node: yaml.Node) -> list[yaml.Node]:
    """The nodes a collection holds (a mapping's values, merged ones included)."""
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [value for _, value in node.value]
    return []


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def read_document(
    path: Path, into: list[Diagnostic], *, render: Callable[[str], str] | None = None, root_metadata: bool = False
) -> YamlDocument | None:
    """Read, render (for the files Mage renders with Jinja) and parse a YAML file; every problem
    goes `into` the list. Duplicate keys are warnings (the last wins, as in Mage), except in the
    root project's metadata.yaml, which Mage refuses to start with."""
    text = read_text(path)
    if isinstance(text, Diagnostic):
        into.append(text)
        return None
    if render is not None:
        try:
            text = render(text)
        except Exception as exc:  # Jinja syntax, the sandbox's refusals, template functions that raise
            into.append(
                Diagnostic(
                    file=path,
                    line=getattr(exc, "lineno", None),
                    message=f"cannot render the template: {type(exc).__name__}: {exc}",
                    hint="check the {{ ... }} and {% ... %} "
                    "expressions; templates render in a sandbox, without access to Python internals",
                )
            )
            return None
    doc = parse_yaml(path, text)
    if isinstance(doc, Diagnostic):
        into.append(doc)
        return None
    for key, line, column, first in doc.duplicates:
        outcome = (
            "Mage cannot start with duplicate keys in the root project's metadata.yaml"
            if root_metadata
            else "the last one wins, as in Mage"
        )
        into.append(
            Diagnostic(
                file=path,
                line=line,
                column=column,
                message=f"duplicate key '{key}' (first at line {first}): {outcome}",
                hint="remove one of them",
                severity="error" if root_metadata else "warning",
            )
        )
    return doc

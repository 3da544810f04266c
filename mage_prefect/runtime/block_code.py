"""Load a block's code the Mage way: exec into a fresh namespace with collector decorators."""

from __future__ import annotations

import hashlib
import linecache
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project.errors import Diagnostic
from ..project.textfile import read_text

# Every decorator name Mage knows (mage_ai/data_preparation/decorators.py); all are injected so
# block files that never import them still work, and `if 'x' not in globals()` skips the import.
DECORATOR_NAMES = (
    "data_loader",
    "transformer",
    "data_exporter",
    "custom",
    "sensor",
    "test",
    "condition",
    "callback",
    "on_success",
    "on_failure",
    "on_cancelled",
    "extension",
    "preprocesser",
    "data_source",
    "render",
    "x",
    "y",
    "xy",
    "columns",
    "configuration",
)


class BlockCodeError(Exception):
    """The block's code cannot run as a Mage block (missing decorator, wrong arity)."""


@dataclass
class BlockCode:
    """What a block file defined: its functions, grouped by the decorator that marked them."""

    uuid: str
    filename: str
    decorated: dict[str, list[Callable]] = field(default_factory=lambda: defaultdict(list))
    arguments: dict[int, tuple] = field(default_factory=dict)  # id(function) → `@name(...)` arguments
    namespace: dict[str, Any] = field(default_factory=dict)  # the globals the block's code ran in

    def main_function(self, block_type: str) -> Callable:
        """Mage runs only the first function decorated with the block-type decorator."""
        functions = self.decorated.get(block_type)
        if not functions:
            raise BlockCodeError(
                f"Block {self.uuid} does not have any decorated functions: "
                f"{self.filename} has no @{block_type} function"
            )
        return functions[0]


def _collector(code: BlockCode, name: str):
    """A decorator that records the function; supports both `@name` and `@name(...)`."""

    def decorator(*args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            code.decorated[name].append(args[0])
            return args[0]

        def register(function):
            code.decorated[name].append(function)
            code.arguments[id(function)] = args
            return function

        return register

    return decorator


def compile_block(source: str, filename: str):
    """Compile block source so tracebacks name the block file and its lines."""
    if not Path(filename).is_file():  # inline `content`: make its lines visible in tracebacks
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec")


def block_source(block) -> tuple[str, str]:
    """The code Mage runs for a block (inline `content` first, else its file) and its filename; a
    Python file is decoded as Python decodes it (a PEP 263 `coding:` cookie is honoured)."""
    if block.content is not None:
        return block.content, block.code_location
    text = read_text(block.file, python=block.language == "python")
    if isinstance(text, Diagnostic):
        raise BlockCodeError(f"block '{block.uuid}': {text.format()}")
    return text, str(block.file)


def compiled_block_code(block) -> tuple[object, str]:
    """The block's compiled code and the filename its tracebacks show."""
    source, filename = block_source(block)
    return compile_block(source, filename), filename


def load_block_code(uuid: str, code, filename: str, extra_globals: dict[str, Any] | None = None) -> BlockCode:
    """Execute compiled block code in a fresh namespace and collect its decorated functions."""
    result = BlockCode(uuid=uuid, filename=filename)
    namespace = result.namespace
    namespace.update({"__name__": f"mage_block_{uuid}", "__builtins__": __builtins__})
    namespace.update({name: _collector(result, name) for name in DECORATOR_NAMES})
    namespace.update(extra_globals or {})
    exec(code, namespace)
    return result


def pipeline_version(pipeline) -> str:
    """A version of the pipeline that changes whenever its YAML or any block's code changes."""
    digest = hashlib.sha256(pipeline.source.file.read_bytes())
    for block in (*pipeline.blocks, *pipeline.callbacks, *pipeline.conditionals):
        if block.file is not None or block.content is not None:
            digest.update(block_source(block)[0].encode())
    return digest.hexdigest()[:12]

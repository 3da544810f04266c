"""What block tasks hand each other: outputs in memory (released when no longer needed),
one item of a dynamic parent, the reduced outputs of dynamic children, or a skip marker."""

from __future__ import annotations

import reprlib
import threading
from dataclasses import dataclass
from typing import Any

from prefect.utilities.annotations import quote

from .frames import frame_library
from .results.store import OutputStore


class BlockResult:
    """A block task's return value: its outputs in memory and the keys they were persisted under.

    Outputs are released once every downstream block has taken them (`consumers`; None keeps
    them), so a long chain of large DataFrames holds only what is still needed; later reads (a
    retry, another process) load the persisted copies. A plain class, not a dataclass, so Prefect
    does not walk into the outputs.
    """

    def __init__(
        self,
        name: str,
        outputs: list[Any],
        keys: list[str],
        consumers: int | None,
        store: OutputStore,
        fingerprint: str | None = None,
        identity: str | None = None,
    ):
        self._outputs: list[Any] | None = outputs if consumers is None or consumers > 0 else None
        self._remaining = consumers
        self._lock = threading.Lock()
        self.name, self.keys, self.store, self.fingerprint = name, keys, store, fingerprint
        self.previews = [preview(output) for output in outputs]
        self.tables = [head_rows(output) for output in outputs]
        self._identity = identity  # None: read from the store when first asked

    @property
    def identity(self) -> str:
        """What the stored outputs are (store.identity), for the fingerprints of downstream blocks."""
        if self._identity is None:
            self._identity = self.store.identity(self.keys)
        return self._identity

    def peek(self) -> list[Any]:
        """The outputs, without counting as a consumer."""
        outputs = self._outputs
        return outputs if outputs is not None else [self.store.read(key) for key in self.keys]

    def take(self) -> list[Any]:
        """The outputs, for one downstream block."""
        with self._lock:
            outputs = self._outputs
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._outputs = None
        return outputs if outputs is not None else [self.store.read(key) for key in self.keys]

    def __getstate__(self) -> dict:  # another process reads the persisted outputs
        return {
            "name": self.name,
            "keys": self.keys,
            "store": self.store,
            "previews": self.previews,
            "tables": self.tables,
            "fingerprint": self.fingerprint,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["name"], [], state["keys"], 0, state["store"], state.get("fingerprint"))
        self.previews, self.tables = state["previews"], state.get("tables") or []

    def __repr__(self) -> str:
        return f"BlockResult({', '.join(self.keys) or 'no outputs'})"


_SHORT = reprlib.Repr()  # keyword arguments arrive in Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 2, 6, 6, 6
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def preview(value: Any) -> str:
    """One line about an output: a DataFrame's size and columns, an array's or Series' shape and
    dtype, else a shortened repr (the type's name when even that fails: a preview never fails a block)."""
    try:
        return _preview(value)
    except Exception:
        return f"<{type(value).__module__}.{type(value).__qualname__}>"


TABLE_ROWS, TABLE_COLUMNS, TABLE_CELL = (
    10,
    20,
    10_000,
)  # what a DataFrame output's table keeps (artifacts.py shows less)


def head_rows(value: Any) -> list[dict[str, str]] | None:
    """A DataFrame output's first rows and columns, cells as (shortened) text, as Mage shows a
    block's output in a table; None for anything else."""
    library = frame_library(value)
    if library is None:
        return None
    try:
        head = value.head(TABLE_ROWS)
        columns = list(head.columns)[:TABLE_COLUMNS]
        rows = head.select(columns).to_dicts() if library == "polars" else head[columns].to_dict(orient="records")
        return [{str(name): str(cell)[:TABLE_CELL] for name, cell in row.items()} for row in rows]
    except Exception:  # like a preview, a table never fails a block
        return None


def _preview(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if frame_library(value) is not None:
        columns = value.columns
        names = ", ".join(str(column) for column in list(columns)[:8]) + (", …" if len(columns) > 8 else "")
        return f"{type(value).__name__} {shape[0]:,} rows × {shape[1]} columns ({names})"
    if isinstance(shape, tuple) and hasattr(value, "dtype"):
        name = getattr(value, "name", None)
        return f"{type(value).__name__} {' × '.join(f'{n:,}' for n in shape)} {value.dtype}" + (
            f" ({name})" if name else ""
        )
    return " ".join(_SHORT.repr(value).split())


class Whole(quote):
    """A task argument Prefect hands over as it is, not walking into it (Prefect's `quote`), also to
    a Dask or Ray worker: Prefect's own `quote` unpickles as `quote((value,))`."""

    __slots__ = ()

    def __reduce__(self):
        return type(self), (self.unwrap(),)


class Skip:
    """Data of a skipped block's state; every downstream block is skipped in turn."""

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Skip({self.reason!r})"


class DynamicItem:
    """Item `index` of a dynamic parent's first output: it replaces the parent's argument.
    A plain class, so Prefect does not walk into the item."""

    def __init__(self, item: Any, index: int):
        self.item, self.index = item, index

    def __repr__(self) -> str:
        return f"DynamicItem({self.index})"


@dataclass
class Reduced:
    """The results of a dynamic child's runs, reduced (`reduce_output: true`) into one argument."""

    parts: list[Any]


def dynamic_items(parent: BlockResult) -> tuple[list[Any], list[dict]]:
    """Mage's `[items, metadata]` contract of a dynamic parent's outputs; one metadata dict per
    item (`{}` where the parent gave none)."""
    outputs = parent.peek()
    items = outputs[0] if outputs else []
    if frame_library(items) == "pandas":  # one item per row
        items = [row.to_dict() for _, row in items.iterrows()]
    given = outputs[1] if len(outputs) > 1 and isinstance(outputs[1], list) else []
    metadata = [m if isinstance(m, dict) else {} for m in given] + [{}] * max(0, len(items) - len(given))
    return list(items), metadata[: len(items)]


def first_skip(upstream: tuple) -> Skip | None:
    for value in upstream:
        parts = value.parts if isinstance(value, Reduced) else [value]
        for part in parts:
            if isinstance(part, Skip):
                return part
    return None


def input_outputs(value: Any) -> list[Any]:
    """One upstream as the outputs list the runtime shapes into an argument."""
    if isinstance(value, BlockResult):
        return value.take()
    if isinstance(value, DynamicItem):
        return [value.item]
    if isinstance(value, Reduced):
        return [[(part.take() or [None])[0] for part in value.parts]]
    raise TypeError(f"unexpected upstream value {value!r}")

"""What kind of table a value is — a pandas or polars DataFrame or Series — asked of its type alone,
so nothing imports pandas or polars just to find out."""

from __future__ import annotations

from typing import Any, Literal

Library = Literal["pandas", "polars"]


def frame_library(value: Any, kinds: tuple[str, ...] = ("DataFrame",)) -> Library | None:
    """The library of a DataFrame (or of another of `kinds`, e.g. "Series"), else None."""
    kind = type(value)
    if kind.__name__ not in kinds:
        return None
    module = kind.__module__
    return "pandas" if module.startswith("pandas") else "polars" if module.startswith("polars") else None


def is_pandas(value: Any) -> bool:
    """A pandas DataFrame or Series."""
    return frame_library(value, ("DataFrame", "Series")) == "pandas"

"""`mage_ai.io.file.FileIO`: DataFrames from and to local files, the format from the extension."""

from __future__ import annotations

import os
from pathlib import Path

# Mage's FileFormat values → the pandas reader / writer suffix.
FORMATS = {"csv": "csv", "json": "json", "parquet": "parquet", "hdf5": "hdf", "xml": "xml", "excel": "excel"}
EXTENSIONS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".h5": "hdf5", ".hdf5": "hdf5", ".xml": "xml",
              ".xlsx": "excel", ".xls": "excel"}


class FileIO:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def load(self, filepath: str | os.PathLike, format: str | None = None, limit: int | None = None, **kwargs):
        import pandas

        frame = getattr(pandas, f"read_{_format(filepath, format)}")(filepath, **kwargs)
        return frame.head(limit) if limit else frame

    def export(self, df, filepath: str | os.PathLike, format: str | None = None, **kwargs) -> None:
        kind = _format(filepath, format)
        Path(filepath).parent.mkdir(parents=True, exist_ok=True)
        if kind in ("csv", "excel", "parquet"):
            kwargs.setdefault("index", False)
        getattr(df, f"to_{kind}")(filepath, **kwargs)

    def exists(self, filepath: str | os.PathLike) -> bool:
        return os.path.exists(filepath)


def _format(filepath, format: str | None) -> str:
    name = format.value if hasattr(format, "value") else format or EXTENSIONS.get(Path(filepath).suffix.lower())
    if name not in FORMATS:
        raise ValueError(f"{filepath}: unknown file format {name!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[name]

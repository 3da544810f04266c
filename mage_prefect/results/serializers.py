"""Pick a Prefect serializer per block output: parquet for DataFrames, JSON when lossless, else pickle."""

from __future__ import annotations

import io
import json
from typing import Any, Literal

from prefect.serializers import JSONSerializer, PickleSerializer, Serializer


class ParquetSerializer(Serializer):
    """DataFrames (pandas or polars) as parquet bytes, via pyarrow.

    Needs a result store with separate metadata storage: the bytes are written raw, not inside a
    JSON record (which would require base64).
    """

    type: Literal["mage_prefect.parquet"] = "mage_prefect.parquet"
    library: Literal["pandas", "polars"] = "pandas"

    def dumps(self, obj: Any) -> bytes:
        buffer = io.BytesIO()
        if self.library == "polars":
            obj.write_parquet(buffer)
        else:
            obj.to_parquet(buffer, engine="pyarrow")
        return buffer.getbuffer()  # a view, not a copy: outputs can be large

    def loads(self, blob: bytes) -> Any:
        if self.library == "polars":
            import polars

            return polars.read_parquet(io.BytesIO(blob))
        import pandas

        return pandas.read_parquet(io.BytesIO(blob), engine="pyarrow")


FILE_EXTENSIONS = {"mage_prefect.parquet": "parquet", "json": "json", "pickle": "pickle"}


def dataframe_library(value: Any) -> Literal["pandas", "polars"] | None:
    module = type(value).__module__
    if type(value).__name__ != "DataFrame":
        return None
    if module.startswith("pandas"):
        return "pandas"
    if module.startswith("polars"):
        return "polars"
    return None


def is_lossless_json(value: Any) -> bool:
    """True if the value survives a JSON round trip unchanged (no tuples, int keys, NaN…)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError):
        return False
    except Exception:  # e.g. ambiguous truth values of array-likes in ==
        return False


def serializer_for(value: Any) -> Serializer:
    """The serializer a block output is stored with (pickle is the fallback of last resort)."""
    library = dataframe_library(value)
    if library is not None:
        return ParquetSerializer(library=library)
    if is_lossless_json(value):
        return JSONSerializer()
    return PickleSerializer()


def extension(serializer: Serializer) -> str:
    return FILE_EXTENSIONS.get(serializer.type, "bin")

"""Pick a Prefect serializer per block output: parquet for DataFrames, JSON when lossless, else pickle."""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO, Literal

from prefect.serializers import JSONSerializer, PickleSerializer, Serializer

from ..frames import frame_library


class ParquetSerializer(Serializer):
    """DataFrames (pandas or polars) as parquet bytes, via pyarrow.

    Needs a result store with separate metadata storage: the bytes are written raw, not inside a
    JSON record (which would require base64).
    """

    type: Literal["mage_prefect.parquet"] = "mage_prefect.parquet"
    library: Literal["pandas", "polars"] = "pandas"

    def dumps(self, obj: Any) -> bytes:
        buffer = io.BytesIO()
        self.dump(obj, buffer)
        return buffer.getbuffer()  # a view, not a copy: outputs can be large

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write `obj` as parquet into `file`."""
        if self.library == "polars":
            obj.write_parquet(file)
        else:
            # dictionary encoding rarely shrinks floats but doubles their encoding time
            dictionary = [str(c) for c, dtype in obj.dtypes.items() if dtype.kind != "f"]
            obj.to_parquet(file, engine="pyarrow", use_dictionary=dictionary)

    def loads(self, blob: bytes) -> Any:
        if self.library == "polars":
            import polars

            return polars.read_parquet(io.BytesIO(blob))
        import pandas

        return pandas.read_parquet(io.BytesIO(blob), engine="pyarrow")


FILE_EXTENSIONS = {"mage_prefect.parquet": "parquet", "json": "json", "pickle": "pickle"}


# What pandas calls the values of an object column that parquet gives back unchanged. Containers
# are not among them: lists and tuples come back as numpy arrays, dicts gain the other rows' keys.
PARQUET_SAFE_OBJECTS = {"bytes", "empty", "decimal", "date", "time"}


def parquet_round_trips(frame: Any) -> bool:
    """False for a pandas DataFrame that parquet would silently alter (it is pickled instead).

    pyarrow accepts but changes some frames: mixed-type or boolean column names come back as
    other names, container values as arrays. Frames parquet refuses fall back in the store.
    """
    if frame_library(frame) != "pandas":
        return True
    import pandas
    from pandas.api.types import infer_dtype

    if not all(isinstance(name, str) for name in frame.columns):
        return False
    safe = set(PARQUET_SAFE_OBJECTS)
    if int(pandas.__version__.split(".")[0]) < 3:
        safe.add("string")  # pandas 3 reads text back as its `str` dtype, with NaN for None
    return all(
        infer_dtype(frame.iloc[:, position], skipna=True) in safe
        for position, dtype in enumerate(frame.dtypes)
        if dtype == "object"
    )


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
    library = frame_library(value)
    if library is not None and parquet_round_trips(value):
        return ParquetSerializer(library=library)
    if is_lossless_json(value):
        return JSONSerializer()
    return PickleSerializer()


def extension(serializer: Serializer) -> str:
    return FILE_EXTENSIONS.get(serializer.type, "bin")

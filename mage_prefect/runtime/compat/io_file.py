"""`mage_ai.io.file.FileIO` and `mage_ai.io.s3.S3`: DataFrames from and to local files or S3 objects,
the format from the extension (or `format=`)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

# Mage's FileFormat values → the pandas reader / writer suffix.
FORMATS = {"csv": "csv", "json": "json", "parquet": "parquet", "hdf5": "hdf", "xml": "xml", "excel": "excel"}
EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".xml": "xml",
    ".xlsx": "excel",
    ".xls": "excel",
}


class FileIO:
    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def load(self, filepath: str | os.PathLike, format: str | None = None, limit: int | None = None, **kwargs):
        return read_frame(filepath, _format(filepath, format), limit, **kwargs)

    def export(self, df, filepath: str | os.PathLike, format: str | None = None, **kwargs) -> None:
        Path(filepath).parent.mkdir(parents=True, exist_ok=True)
        write_frame(df, filepath, _format(filepath, format), **kwargs)

    def exists(self, filepath: str | os.PathLike) -> bool:
        return os.path.exists(filepath)


class S3:
    """`S3.with_config(loader)`: boto3's client with the profile's AWS_* keys (else boto3's own lookup)."""

    def __init__(self, bucket: str | None = None, verbose: bool = True, **client_options: Any) -> None:
        try:
            import boto3
        except ImportError:
            raise ImportError("mage_ai.io.s3 needs boto3: pip install 'mage-prefect[aws]'") from None
        self.bucket = bucket
        self.client = boto3.client("s3", **{k: v for k, v in client_options.items() if v})

    @classmethod
    def with_config(cls, config, **kwargs) -> S3:
        return cls(
            aws_access_key_id=config.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=config.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=config.get("AWS_SESSION_TOKEN"),
            region_name=config.get("AWS_REGION"),
            endpoint_url=config.get("AWS_ENDPOINT"),
            **kwargs,
        )

    def load(self, bucket_name: str, object_key: str, format: str | None = None, limit: int | None = None, **kwargs):
        body = self.client.get_object(Bucket=bucket_name, Key=object_key)["Body"].read()
        return read_frame(io.BytesIO(body), _format(object_key, format), limit, **kwargs)

    def export(self, data, bucket_name: str, object_key: str, format: str | None = None, **kwargs) -> None:
        buffer = io.BytesIO()
        write_frame(data, buffer, _format(object_key, format), **kwargs)
        self.client.put_object(Bucket=bucket_name, Key=object_key, Body=buffer.getvalue())

    def exists(self, bucket_name: str, prefix: str) -> bool:
        return self.client.list_objects_v2(Bucket=bucket_name, Prefix=prefix, MaxKeys=1).get("KeyCount", 0) > 0


def read_frame(source, kind: str, limit: int | None = None, **kwargs):
    import pandas

    frame = getattr(pandas, f"read_{kind}")(source, **kwargs)
    return frame.head(limit) if limit else frame


def write_frame(df, target, kind: str, **kwargs) -> None:
    """Mage's `BaseIO._write`: pandas' own defaults (a CSV keeps the index, as in Mage), parquet
    timestamps in milliseconds."""
    if kind == "parquet":
        kwargs.setdefault("coerce_timestamps", "ms")
        kwargs.setdefault("allow_truncated_timestamps", True)
    getattr(df, f"to_{kind}")(target, **kwargs)


def _format(name, format: str | None) -> str:
    given = format.value if hasattr(format, "value") else format
    kind = given or EXTENSIONS.get(Path(str(name)).suffix.lower())
    if kind not in FORMATS:
        raise ValueError(f"{name}: unknown file format {kind!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[kind]

"""`mage_ai.io.file.FileIO`, `mage_ai.io.s3.S3` and `mage_ai.io.google_cloud_storage.GoogleCloudStorage`:
DataFrames from and to local files, S3 or GCS objects, the format from the extension (or `format=`)."""

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


class GoogleCloudStorage:
    """Mage's GCS connector: google-cloud-storage's client with the given credentials (a
    `credentials` object, a key mapping or a key file), else Google's default lookup
    (`GOOGLE_APPLICATION_CREDENTIALS`; `STORAGE_EMULATOR_HOST` for an emulator)."""

    def __init__(self, verbose: bool = False, **kwargs: Any) -> None:
        storage, service_account = _google_storage()
        mapping, path = kwargs.pop("credentials_mapping", None), kwargs.pop("path_to_credentials", None)
        credentials = kwargs.pop("credentials", None)
        if credentials is None and path is not None:  # as Mage: a key file wins over a key mapping
            credentials = service_account.Credentials.from_service_account_file(path)
        elif credentials is None and mapping is not None:
            credentials = service_account.Credentials.from_service_account_info(mapping)
        self.client = storage.Client(credentials=credentials, **kwargs)

    @classmethod
    def with_config(cls, config, **kwargs) -> GoogleCloudStorage:
        """The profile's GOOGLE_SERVICE_ACC_KEY (a key mapping) or GOOGLE_SERVICE_ACC_KEY_FILEPATH."""
        if "GOOGLE_SERVICE_ACC_KEY" in config:
            kwargs["credentials_mapping"] = config.get("GOOGLE_SERVICE_ACC_KEY")
        elif "GOOGLE_SERVICE_ACC_KEY_FILEPATH" in config:
            kwargs["path_to_credentials"] = config.get("GOOGLE_SERVICE_ACC_KEY_FILEPATH")
        else:  # Mage's message
            raise ValueError(
                "No valid configuration settings found for Google Cloud Storage. You must specify "
                "either your service account key or the filepath to your service account key."
            )
        return cls(**kwargs)

    def load(self, bucket_name: str, object_key: str, format: str | None = None, limit: int | None = None, **kwargs):
        """The object as a DataFrame; an empty one when the object does not exist (as Mage)."""
        blob = self.client.get_bucket(bucket_name).blob(object_key)
        if not blob.exists():
            import pandas

            return pandas.DataFrame()
        return read_frame(io.BytesIO(blob.download_as_bytes()), _format(object_key, format), limit, **kwargs)

    def export(self, data, bucket_name: str, object_key: str, format: str | None = None, **kwargs) -> None:
        """A DataFrame written in the key's format, or a local file (a path) uploaded as it is."""
        blob = self.client.get_bucket(bucket_name).blob(object_key)
        if isinstance(data, str):
            blob.upload_from_filename(data)
        elif hasattr(data, "to_parquet"):
            buffer = io.BytesIO()
            write_frame(data, buffer, _format(object_key, format), **kwargs)
            blob.upload_from_string(buffer.getvalue())
        else:  # Mage's message
            raise Exception("Please provide a pandas DataFrame or a valid file path as the input.")

    def exists(self, bucket_name: str, prefix: str) -> bool:
        """Whether the object named `prefix` exists (as Mage: an exact name, not a prefix)."""
        return self.client.get_bucket(bucket_name).blob(prefix).exists()


def _google_storage():
    try:
        from google.cloud import storage
        from google.oauth2 import service_account
    except ImportError:
        raise ImportError(
            "mage_ai.io.google_cloud_storage needs google-cloud-storage: pip install 'mage-prefect[gcs]'"
        ) from None
    return storage, service_account


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

"""Where results live: a local folder or an S3 prefix, as Prefect filesystems plus plain bookkeeping I/O.

Each location gives the output store two Prefect filesystems (data files, and the metadata records
of parquet outputs under `.records/`) and small-file access for its JSON bookkeeping.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from prefect.filesystems import LocalFileSystem, WritableFileSystem

from ..project.textfile import write_atomically, writing_atomically

S3_SCHEME = "s3://"


class LocalLocation:
    """A folder; every file is written to a temporary name and renamed into place, so a process
    killed while writing never leaves half a file under the final name."""

    def __init__(self, root: Path):
        self.root = root.expanduser().resolve()
        self.url: str | Path = self.root
        self.storage: WritableFileSystem = LocalFileSystem(basepath=str(self.root))
        self.records: WritableFileSystem = LocalFileSystem(basepath=str(self.root / ".records"))

    def write_bytes(self, key: str, data: bytes) -> None:
        write_atomically(self.root / key, data)

    def write_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        """A file `write` writes into, in place as a whole once it returns (large outputs are not
        built in memory first: in a fresh process their pages cost more than the encoding)."""
        with writing_atomically(self.root / key) as file:
            write(file)

    def write_many(self, files: dict[str, bytes]) -> None:
        for key, data in files.items():
            self.write_bytes(key, data)

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def files(self, folder: str) -> dict[str, int]:
        """Every file under `folder` (its key → its size), at any depth."""
        base = self.root / folder
        return {str(p.relative_to(self.root)): p.stat().st_size for p in base.rglob("*") if p.is_file()}

    def delete_folder(self, folder: str) -> None:
        shutil.rmtree(self.root / folder, ignore_errors=True)

    def names(self, folder: str) -> list[str]:
        """The file names directly in `folder`."""
        path = self.root / folder
        return [child.name for child in path.iterdir() if child.is_file()] if path.is_dir() else []


class S3Location:
    """`s3://bucket/prefix` through prefect-aws's S3Bucket; boto3 takes credentials, region and
    endpoint (`AWS_ENDPOINT_URL`) from its usual environment variables and config files."""

    def __init__(self, url: str):
        try:
            from prefect_aws import S3Bucket
        except ImportError as exc:
            raise ImportError(f"results in {url} need prefect-aws: pip install 'mage-prefect[aws]'") from exc

        bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.url = f"{S3_SCHEME}{bucket}/{self.prefix}".rstrip("/")
        self.storage = S3Bucket(bucket_name=bucket, bucket_folder=self.prefix)
        self.records = S3Bucket(bucket_name=bucket, bucket_folder=self._key(".records"))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def write_bytes(self, key: str, data: bytes) -> None:
        self.storage.write_path(key, data)  # an S3 object appears whole, or not at all

    def write_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        buffer = io.BytesIO()
        write(buffer)
        self.write_bytes(key, buffer.getbuffer())

    def write_many(self, files: dict[str, bytes]) -> None:
        """PUTs wait on the network: send them side by side."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda item: self.write_bytes(*item), files.items()))

    def read_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.storage.read_path(key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self._client().head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def delete(self, key: str) -> None:
        self._client().delete_object(Bucket=self.bucket, Key=self._key(key))

    def files(self, folder: str) -> dict[str, int]:
        prefix = self._key(folder.rstrip("/") + "/")
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        start = len(self._key(""))
        return {o["Key"][start:]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def delete_folder(self, folder: str) -> None:
        keys = [self._key(key) for key in self.files(folder)]
        for batch in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at a time
            objects = [{"Key": key} for key in keys[batch : batch + 1000]]
            self._client().delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def _client(self):
        return self.storage._get_s3_client()  # prefect-aws's client, with the bucket's credentials

    def names(self, folder: str) -> list[str]:
        folder = folder.rstrip("/") + "/"  # the objects in the folder, not the folder itself
        prefix = self._key(folder)
        objects = self.storage.list_objects(folder=folder, delimiter="/")
        return [obj["Key"][len(prefix) :] for obj in objects if obj["Key"].startswith(prefix)]


Location = LocalLocation | S3Location


def open_location(where: str | Path) -> Location:
    """An `s3://bucket/prefix` URL, or a local folder."""
    if isinstance(where, str) and where.startswith(S3_SCHEME):
        return S3Location(where)
    return LocalLocation(Path(where))

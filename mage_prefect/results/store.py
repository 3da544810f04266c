"""Where block outputs live: one Prefect result record per output, with stable readable keys.

Layout under the results location (a folder, by default `<project>/.mage_prefect/results`, or an
`s3://bucket/prefix`; see locations.py):

    <pipeline>/<flow run id>/<block>/output_<i>.<parquet|json|pickle>   the data
    <pipeline>/<flow run id>/outputs.json                               each block's output keys in the run (JSON)
    <pipeline>/latest/<block>.json                                      the block's latest run (JSON)
    .records/…                                                          Prefect's metadata records of parquet outputs
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from prefect.results import ResultStore
from prefect.serializers import PickleSerializer, Serializer

from ..project.errors import InvalidRequest, NotFound
from ..project.loader import unset_results
from ..project.models import clean_name
from .locations import S3_SCHEME, open_location
from .serializers import ParquetSerializer, extension, serializer_for

LATEST = "latest"
OUTPUT_FILE = re.compile(r"output_(\d+)\.\w+")
MANIFEST = "outputs.json"
_PUBLISH_LOCK = threading.Lock()


class OutputNotFound(NotFound):
    """A block has no stored output (in the run asked for)."""


class OutputStore:
    """Saves and loads block outputs through Prefect result stores."""

    def __init__(self, location: str | Path):
        self._where = open_location(location)
        self.location = self._where.url  # a Path, or an s3:// URL

    def _store(self, serializer: Serializer) -> ResultStore:
        """A parquet file stays plain parquet, its metadata record kept apart; JSON and pickles are
        one Prefect record file each (one file write per output: block overhead is mostly I/O)."""
        return ResultStore(
            result_storage=self._where.storage,
            metadata_storage=self._where.records if isinstance(serializer, ParquetSerializer) else None,
            serializer=serializer,
            cache_result_in_memory=False,
        )

    @staticmethod
    def block_key(pipeline: str, run_id: str, block_uuid: str) -> str:
        return f"{pipeline}/{run_id}/{clean_name(block_uuid)}"

    def save(self, pipeline: str, run_id: str, block_uuid: str, outputs: list[Any], publish: bool = True) -> list[str]:
        """Persist each output and return the keys. With `publish`, they are recorded at once (a flow
        publishes all its blocks together, when it ends: one bookkeeping write per run, not per block)."""
        base = self.block_key(pipeline, run_id, block_uuid)
        keys = [self._write(f"{base}/output_{index}", value) for index, value in enumerate(outputs)]
        if publish:
            self.publish(pipeline, run_id, {block_uuid: keys})
        return keys

    def publish(
        self, pipeline: str, run_id: str, saved: dict[str, list[str]], reused: dict[str, list[str]] | None = None
    ) -> None:
        """Record the keys of each block's outputs in run `run_id`: those it `saved` become the
        blocks' latest; those it `reused` (keys of earlier runs, for a partial run) do not."""
        with _PUBLISH_LOCK:
            manifest = self._read_json_or_empty(f"{pipeline}/{run_id}/{MANIFEST}")
            manifest.update({clean_name(block): keys for block, keys in {**(reused or {}), **saved}.items()})
            self._write_json(f"{pipeline}/{run_id}/{MANIFEST}", manifest)
        # one pointer file per block, each replaced whole: runs in other processes (or on other
        # workers, on S3) cannot lose each other's updates as with a shared read-modify-write file
        pointer = json.dumps({"run_id": run_id, "saved_at": time.time()}).encode()
        self._where.write_many({self._latest_key(pipeline, block): pointer for block in saved})

    @staticmethod
    def _latest_key(pipeline: str, block_uuid: str) -> str:
        return f"{pipeline}/{LATEST}/{clean_name(block_uuid)}.json"

    def _latest(self, pipeline: str, block_uuid: str) -> dict | None:
        return self._read_json(self._latest_key(pipeline, block_uuid))

    def has(self, pipeline: str, block_uuid: str) -> bool:
        """Whether the block has any stored output."""
        return self._latest(pipeline, block_uuid) is not None

    def last_run(self, pipeline: str, blocks: list[str]) -> str | None:
        """The most recent run that stored an output of any of `blocks` (None: no run did)."""
        pointers = [pointer for pointer in (self._latest(pipeline, block) for block in blocks) if pointer]
        return max(pointers, key=lambda pointer: pointer.get("saved_at", 0))["run_id"] if pointers else None

    def fresh(self, pipeline: str, blocks: list[str], max_age: float | None) -> bool:
        """Every block has stored outputs, none older than `max_age` seconds (None: any age)."""
        saved = [self._latest(pipeline, block) for block in blocks]
        if not blocks or any(entry is None for entry in saved):
            return False
        return max_age is None or time.time() - min(entry.get("saved_at", 0) for entry in saved) <= max_age

    def _keys(self, pipeline: str, run_id: str, blocks: list[str]) -> dict[str, list[str]]:
        """The output keys in the run of those `blocks` that stored any: from the run's manifest, or,
        while the run is still going (`get_variable` in a later block), from the files saved so far."""
        manifest = self._read_json(f"{pipeline}/{run_id}/{MANIFEST}")
        if manifest is not None:  # the run has ended: a block it does not list did not finish
            return {block: manifest[clean_name(block)] for block in blocks if clean_name(block) in manifest}
        found = {}
        for block in blocks:
            base = self.block_key(pipeline, run_id, block)
            saved = sorted(
                (name for name in self._where.names(base) if OUTPUT_FILE.fullmatch(name)),
                key=lambda name: int(OUTPUT_FILE.fullmatch(name)[1]),
            )
            if saved:
                found[block] = [f"{base}/{name}" for name in saved]
        return found

    def _write(self, key: str, value: Any) -> str:
        serializer = serializer_for(value)
        try:
            return self._write_with(serializer, key, value)
        except Exception:
            if isinstance(serializer, PickleSerializer):
                raise
            # e.g. a DataFrame parquet cannot hold (non-string column names, mixed object columns)
            return self._write_with(PickleSerializer(), key, value)

    def _write_with(self, serializer: Serializer, key: str, value: Any) -> str:
        full_key = f"{key}.{extension(serializer)}"
        self._store(serializer).write(value, key=full_key)
        return full_key

    def _write_json(self, key: str, value: Any) -> None:
        """Bookkeeping (a run's manifest): plain JSON, replaced atomically."""
        self._where.write_bytes(key, json.dumps(value).encode())

    def _read_json(self, key: str) -> Any:
        """A bookkeeping file, None when absent (an unreadable one raises: rewriting it would lose it)."""
        data = self._where.read_bytes(key)
        return json.loads(data) if data is not None else None

    def _read_json_or_empty(self, key: str) -> dict:
        return self._read_json(key) or {}

    def read(self, key: str) -> Any:
        """One output's value, from its Prefect result record."""
        serializer = ParquetSerializer() if key.endswith(".parquet") else PickleSerializer()
        return self._store(serializer).read(key).result  # the record names its serializer

    def run_id(self, pipeline: str, block_uuid: str, run: str = LATEST) -> str:
        if run != LATEST:
            return run
        latest = self._latest(pipeline, block_uuid)
        if latest is None:
            raise OutputNotFound(
                f"block '{block_uuid}' of pipeline '{pipeline}' has no stored output in "
                f"{self.location}; run the pipeline first"
            )
        return latest["run_id"]

    def load(self, pipeline: str, block_uuid: str, run: str = LATEST) -> list[Any]:
        """All outputs (output_0…) of a block in a run ('latest' = its most recent successful run)."""
        return [self.read(key) for key in self.keys(pipeline, block_uuid, run)]

    def keys(self, pipeline: str, block_uuid: str, run: str = LATEST) -> list[str]:
        """The keys of a block's outputs in a run ('latest' = its most recent successful run)."""
        run_id = self.run_id(pipeline, block_uuid, run)
        keys = self._keys(pipeline, run_id, [block_uuid]).get(block_uuid)
        if keys is None:
            raise OutputNotFound(
                f"block '{block_uuid}' of pipeline '{pipeline}' has no stored output for run "
                f"{run_id}; it may have failed or not run"
            )
        return keys

    def saved(self, pipeline: str, run_id: str, blocks: list[str]) -> list[str]:
        """Those of `blocks` whose outputs run `run_id` stored (recorded when it ended, else found)."""
        return list(self._keys(pipeline, run_id, blocks))


def results_location(project, override: str | Path | None = None) -> str | Path:
    """Where outputs go: the argument, else the project's `mage_prefect.results` setting (or
    $MAGE_PREFECT_RESULTS, which overrides it), else `<project>/.mage_prefect/results`. An `s3://bucket/prefix`
    URL stays a URL; a relative path is relative to the project."""
    configured = override or project.settings.results
    if unset_results(configured if isinstance(configured, str) else None):
        raise InvalidRequest(
            f"the results location {configured!r} holds 'None', what an unset env_var() renders: set "
            "the environment variable that mage_prefect.results reads, or pass --results"
        )
    if isinstance(configured, str) and configured.startswith(S3_SCHEME):
        return configured
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else project.root / path
    return project.root / ".mage_prefect" / "results"

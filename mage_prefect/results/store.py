"""Where block outputs live: one Prefect result record per output, with stable readable keys.

Layout under the results location (default `<project>/.mage_prefect/results`):

    <pipeline>/<flow run id>/<block>/output_<i>.<parquet|json|pickle>   the data
    <pipeline>/<flow run id>/<block>/outputs.json                       the block's output keys (JSON)
    <pipeline>/latest.json                                              each block's latest run (JSON)
    .records/…                                                          Prefect's metadata records of parquet and JSON outputs
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.serializers import JSONSerializer, PickleSerializer, Serializer

from ..project.models import clean_name
from .serializers import extension, serializer_for

LATEST = "latest"
_PUBLISH_LOCK = threading.Lock()


class OutputNotFound(LookupError):
    pass


class OutputStore:
    """Saves and loads block outputs through Prefect result stores."""

    def __init__(self, location: str | Path):
        self.location = Path(location).expanduser().resolve()
        self._storage = LocalFileSystem(basepath=str(self.location))
        self._metadata = LocalFileSystem(basepath=str(self.location / ".records"))

    def _store(self, serializer: Serializer) -> ResultStore:
        """Parquet and JSON data files stay plain (their metadata record is separate); a pickle,
        unreadable anyway, travels inside one Prefect record file."""
        return ResultStore(
            result_storage=self._storage,
            metadata_storage=None if isinstance(serializer, PickleSerializer) else self._metadata,
            serializer=serializer,
            cache_result_in_memory=False,
        )

    @staticmethod
    def block_key(pipeline: str, run_id: str, block_uuid: str) -> str:
        return f"{pipeline}/{run_id}/{clean_name(block_uuid)}"

    def save(self, pipeline: str, run_id: str, block_uuid: str, outputs: list[Any], publish: bool = True) -> list[str]:
        """Persist each output, then the block's manifest; returns the keys. With `publish`, the
        outputs also become the block's latest (a flow publishes all its blocks once, at its end)."""
        base = self.block_key(pipeline, run_id, block_uuid)
        keys = [self._write(f"{base}/output_{index}", value) for index, value in enumerate(outputs)]
        self._write_json(f"{base}/outputs.json", keys)
        if publish:
            self.publish(pipeline, run_id, [block_uuid])
        return keys

    def publish(self, pipeline: str, run_id: str, blocks: list[str]) -> None:
        """Make these blocks' outputs of run `run_id` their latest (one file per pipeline)."""
        with _PUBLISH_LOCK:
            latest = self._latest_all(pipeline)
            saved_at = time.time()
            latest.update({clean_name(block): {"run_id": run_id, "saved_at": saved_at} for block in blocks})
            self._write_json(f"{pipeline}/{LATEST}.json", latest)

    def _latest_all(self, pipeline: str) -> dict[str, dict]:
        try:
            return self._read_json(f"{pipeline}/{LATEST}.json")
        except (OSError, ValueError):
            return {}

    def _latest(self, pipeline: str, block_uuid: str) -> dict | None:
        return self._latest_all(pipeline).get(clean_name(block_uuid))

    def has(self, pipeline: str, block_uuid: str) -> bool:
        """Whether the block has any stored output."""
        return self._latest(pipeline, block_uuid) is not None

    def fresh(self, pipeline: str, blocks: list[str], max_age: float | None) -> bool:
        """Every block has stored outputs, none older than `max_age` seconds (None: any age)."""
        latest = self._latest_all(pipeline)
        saved = [latest.get(clean_name(block)) for block in blocks]
        if not blocks or any(entry is None for entry in saved):
            return False
        return max_age is None or time.time() - min(entry.get("saved_at", 0) for entry in saved) <= max_age

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
        """Bookkeeping (manifests, latest pointers): plain JSON files, written atomically."""
        path = self.location / key
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(value), encoding="utf-8")
        temporary.replace(path)

    def _read_json(self, key: str) -> Any:
        return json.loads((self.location / key).read_text(encoding="utf-8"))

    def read(self, key: str) -> Any:
        """One output's value, from its Prefect result record."""
        serializer = PickleSerializer() if key.endswith(".pickle") else JSONSerializer()
        return self._store(serializer).read(key).result

    def run_id(self, pipeline: str, block_uuid: str, run: str = LATEST) -> str:
        if run != LATEST:
            return run
        latest = self._latest(pipeline, block_uuid)
        if latest is None:
            raise OutputNotFound(f"block '{block_uuid}' of pipeline '{pipeline}' has no stored output in "
                                 f"{self.location}; run the pipeline first")
        return latest["run_id"]

    def load(self, pipeline: str, block_uuid: str, run: str = LATEST) -> list[Any]:
        """All outputs (output_0…) of a block in a run ('latest' = its most recent successful run)."""
        run_id = self.run_id(pipeline, block_uuid, run)
        try:
            keys = self._read_json(f"{self.block_key(pipeline, run_id, block_uuid)}/outputs.json")
        except (OSError, ValueError) as exc:
            raise OutputNotFound(f"block '{block_uuid}' of pipeline '{pipeline}' has no stored output for run "
                                 f"{run_id}; it may have failed or not run") from exc
        return [self.read(key) for key in keys]


def results_location(project, override: str | Path | None = None) -> Path:
    """Where outputs go: the argument, else $MAGE_PREFECT_RESULTS, else the project's
    `mage_prefect.results` setting, else `<project>/.mage_prefect/results`."""
    configured = override or os.environ.get("MAGE_PREFECT_RESULTS") or project.settings.get("results")
    if configured:
        path = Path(str(configured)).expanduser()
        return path if path.is_absolute() else project.root / path
    return project.root / ".mage_prefect" / "results"

"""Where block outputs live: one Prefect result record per output, with stable readable keys.

Layout under the results location (default `<project>/.mage_prefect/results`):

    <pipeline>/<flow run id>/<block>/output_<i>.<parquet|json|pickle>   the data
    <pipeline>/<flow run id>/<block>/outputs.json                       the block's output keys
    <pipeline>/latest/<block>.json                                      the block's latest run
    .records/…                                                          Prefect's record metadata
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.serializers import JSONSerializer, PickleSerializer, Serializer

from ..project.models import clean_name
from .serializers import extension, serializer_for

LATEST = "latest"


class OutputNotFound(LookupError):
    pass


class OutputStore:
    """Saves and loads block outputs through Prefect result stores."""

    def __init__(self, location: str | Path):
        self.location = Path(location).expanduser().resolve()
        self._storage = LocalFileSystem(basepath=str(self.location))
        self._metadata = LocalFileSystem(basepath=str(self.location / ".records"))

    def _store(self, serializer: Serializer) -> ResultStore:
        return ResultStore(
            result_storage=self._storage,
            metadata_storage=self._metadata,
            serializer=serializer,
            cache_result_in_memory=False,
        )

    @staticmethod
    def block_key(pipeline: str, run_id: str, block_uuid: str) -> str:
        return f"{pipeline}/{run_id}/{clean_name(block_uuid)}"

    def save(self, pipeline: str, run_id: str, block_uuid: str, outputs: list[Any]) -> list[str]:
        """Persist each output, then the block's manifest and latest-run pointer; returns the keys."""
        base = self.block_key(pipeline, run_id, block_uuid)
        keys = [self._write(f"{base}/output_{index}", value) for index, value in enumerate(outputs)]
        json_store = self._store(JSONSerializer())
        json_store.write(keys, key=f"{base}/outputs.json")
        json_store.write({"run_id": run_id}, key=f"{pipeline}/{LATEST}/{clean_name(block_uuid)}.json")
        return keys

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

    def read(self, key: str) -> Any:
        return self._store(JSONSerializer()).read(key).result

    def run_id(self, pipeline: str, block_uuid: str, run: str = LATEST) -> str:
        if run != LATEST:
            return run
        try:
            return self.read(f"{pipeline}/{LATEST}/{clean_name(block_uuid)}.json")["run_id"]
        except (OSError, ValueError) as exc:
            raise OutputNotFound(f"block '{block_uuid}' of pipeline '{pipeline}' has no stored output in "
                                 f"{self.location}; run the pipeline first") from exc

    def load(self, pipeline: str, block_uuid: str, run: str = LATEST) -> list[Any]:
        """All outputs (output_0…) of a block in a run ('latest' = its most recent successful run)."""
        run_id = self.run_id(pipeline, block_uuid, run)
        try:
            keys = self.read(f"{self.block_key(pipeline, run_id, block_uuid)}/outputs.json")
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

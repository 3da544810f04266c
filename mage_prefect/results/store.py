"""Where block outputs live: one Prefect result record per output, with stable readable keys.

Layout under the results location (a folder, by default `<project>/.mage_prefect/results`, or an
`s3://bucket/prefix`; see locations.py):

    <pipeline>/<flow run id>/<block>/output_<i>.<parquet|json|pickle>   the data
    <pipeline>/<flow run id>/<block>/completed.json                     the block's completion record
    <pipeline>/<flow run id>/outputs.json                               each block's output keys in the run (JSON)
    <pipeline>/latest/<block>.json                                      the block's latest run (JSON)
    <pipeline>/runs/…                                                   which runs started and ended (runs.py)
    .records/…                                                          Prefect's metadata records of parquet outputs

Every file appears whole or not at all (locations.py). A block's completion record — its output
keys, their sizes and (up to CHECKSUM_LIMIT) checksums — is written after all its outputs: reuse
trusts only outputs a completion record lists, and checks them against it before reading them.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
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
from .runs import RunRecords
from .serializers import ParquetSerializer, extension, serializer_for

LATEST = "latest"
MANIFEST = "outputs.json"
COMPLETED = "completed.json"
RECORDS = ".records"
CHECKSUM_LIMIT = 16 * 2**20  # outputs up to this size are checksummed (hashing is then cheap)
_PUBLISH_LOCK = threading.Lock()


class OutputNotFound(NotFound):
    """A block has no stored output (in the run asked for)."""


class DamagedOutput(OutputNotFound):
    """A stored output that its completion record does not vouch for (missing, truncated, changed)."""


class OutputStore:
    """Saves and loads block outputs through Prefect result stores."""

    def __init__(self, location: str | Path):
        self._where = open_location(location)
        self.location = self._where.url  # a Path, or an s3:// URL
        self.runs = RunRecords(self._where)

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
        return self.save_outputs(pipeline, run_id, block_uuid, outputs, publish)[0]

    def save_outputs(
        self, pipeline: str, run_id: str, block_uuid: str, outputs: list[Any], publish: bool = True
    ) -> tuple[list[str], str]:
        """`save`, returning the keys and the outputs' identity (see `identity`), known from the write."""
        base = self.block_key(pipeline, run_id, block_uuid)
        written = [self._write(f"{base}/output_{index}", value) for index, value in enumerate(outputs)]
        completion = {"outputs": [facts for _, facts in written], "completed_at": time.time()}
        self._write_json(f"{base}/{COMPLETED}", completion)  # only now is the block's run complete
        keys = [key for key, _ in written]
        if publish:
            self.publish(pipeline, run_id, {block_uuid: keys})
        return keys, _identity([facts for _, facts in written])

    def publish(
        self,
        pipeline: str,
        run_id: str,
        saved: dict[str, list[str]],
        reused: dict[str, list[str]] | None = None,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        """Record the keys of each block's outputs in run `run_id`: those it `saved` become the
        blocks' latest; those it `reused` (keys of earlier runs, for a partial run) only where the
        block has no latest yet (a crashed run's, resumed), dated when they were first saved. A saved
        block's `fingerprints` entry goes with its latest, for incremental runs (`unchanged`)."""
        with _PUBLISH_LOCK:
            manifest = self._read_json_or_empty(f"{pipeline}/{run_id}/{MANIFEST}")
            manifest.update({clean_name(block): keys for block, keys in {**(reused or {}), **saved}.items()})
            self._write_json(f"{pipeline}/{run_id}/{MANIFEST}", manifest)
        # one pointer file per block, each replaced whole: runs in other processes (or on other
        # workers, on S3) cannot lose each other's updates as with a shared read-modify-write file
        now = time.time()
        pointers = {block: now for block in saved}
        for block, keys in (reused or {}).items():
            if keys and self._latest(pipeline, block) is None:
                pointers[block] = (self._completion(keys[0]) or {}).get("completed_at", now)
        self._where.write_many(
            {
                self._latest_key(pipeline, block): json.dumps(
                    {"run_id": run_id, "saved_at": saved_at, "fingerprint": (fingerprints or {}).get(block)}
                ).encode()
                for block, saved_at in pointers.items()
            }
        )

    @staticmethod
    def _latest_key(pipeline: str, block_uuid: str) -> str:
        return f"{pipeline}/{LATEST}/{clean_name(block_uuid)}.json"

    def _latest(self, pipeline: str, block_uuid: str) -> dict | None:
        return self._read_json(self._latest_key(pipeline, block_uuid))

    def has(self, pipeline: str, block_uuid: str) -> bool:
        """Whether the block has any stored output."""
        return self._latest(pipeline, block_uuid) is not None

    def unchanged(self, pipeline: str, block_uuid: str, fingerprint: str) -> tuple[str, list[str]] | None:
        """The run and intact output keys of the block's latest, when it ran with this fingerprint."""
        latest = self._latest(pipeline, block_uuid)
        if latest is None or latest.get("fingerprint") != fingerprint:
            return None
        try:
            return latest["run_id"], self.keys(pipeline, block_uuid, latest["run_id"])
        except OutputNotFound:  # damaged or gone: run it
            return None

    def identity(self, keys: list[str]) -> str:
        """What stored outputs are, for the fingerprints of the blocks they feed: their values'
        checksums (an output too large to checksum: its key, so a rerun of its block changes it)."""
        facts = self._facts(keys)
        return _identity([facts.get(key, {"key": key}) for key in keys])

    def needed_runs(self, pipeline: str) -> set[str]:
        """The runs whose outputs a block's latest reads: the latest runs, and the runs whose
        outputs those reused."""
        needed = set()
        for name in self._where.names(f"{pipeline}/{LATEST}"):
            run_id = (self._read_json(f"{pipeline}/{LATEST}/{name}") or {}).get("run_id")
            if run_id:
                needed.add(run_id)
                manifest = self._read_json_or_empty(f"{pipeline}/{run_id}/{MANIFEST}")
                needed |= {key.split("/")[1] for keys in manifest.values() for key in keys}
        return needed

    def run_files(self, pipeline: str, run_id: str) -> dict[str, int]:
        """The files of one run (key → size in bytes)."""
        return self._where.files(f"{pipeline}/{run_id}")

    def delete_leftovers(self, pipeline: str, run_id: str) -> None:
        """The temporary files of writes that a killed process never finished, in one run."""
        for key in self.run_files(pipeline, run_id):
            name = posixpath.basename(key)
            if name.startswith(".") and name.endswith(".tmp"):
                self._where.delete(key)

    def delete_run(self, pipeline: str, run_id: str) -> None:
        """A run's outputs, their parquet metadata records, and its run record."""
        for key in self.run_files(pipeline, run_id):
            if key.endswith(".parquet"):
                self._where.delete(f"{RECORDS}/{key}")
        self._where.delete_folder(f"{pipeline}/{run_id}")
        self.runs.forget(pipeline, run_id)

    def fresh(self, pipeline: str, blocks: list[str], max_age: float | None) -> bool:
        """Every block has stored outputs, none older than `max_age` seconds (None: any age)."""
        saved = [self._latest(pipeline, block) for block in blocks]
        if not blocks or any(entry is None for entry in saved):
            return False
        return max_age is None or time.time() - min(entry.get("saved_at", 0) for entry in saved) <= max_age

    def _keys(self, pipeline: str, run_id: str, blocks: list[str]) -> dict[str, list[str]]:
        """The output keys in the run of those `blocks` that completed: from the run's manifest, or,
        while the run is going or after its process died, from the blocks' completion records."""
        manifest = self._read_json(f"{pipeline}/{run_id}/{MANIFEST}")
        if manifest is not None:  # the run has ended: a block it does not list did not finish
            return {block: manifest[clean_name(block)] for block in blocks if clean_name(block) in manifest}
        found = {}
        for block in blocks:
            completion = self._read_json(f"{self.block_key(pipeline, run_id, block)}/{COMPLETED}")
            if completion is not None:
                found[block] = [output["key"] for output in completion["outputs"]]
        return found

    def _completion(self, key: str) -> dict | None:
        """The completion record of the block run that stored output `key`."""
        return self._read_json(f"{posixpath.dirname(key)}/{COMPLETED}")

    def _facts(self, keys: list[str]) -> dict[str, dict]:
        """What the completion records say of each of `keys` (size, checksums); one read per block run."""
        facts: dict[str, dict] = {}
        for folder in dict.fromkeys(posixpath.dirname(key) for key in keys):
            outputs = (self._read_json(f"{folder}/{COMPLETED}") or {}).get("outputs", [])
            facts.update({output["key"]: output for output in outputs})
        return facts

    def verify(self, pipeline: str, block_uuid: str, keys: list[str]) -> None:
        """Every output in `keys` is as its completion record describes it (size, and checksum up
        to CHECKSUM_LIMIT); DamagedOutput names the block to run again when one is not."""
        facts = self._facts(keys)
        for key in keys:
            expected = facts.get(key)
            problem = "has no completion record" if expected is None else self._damage(key, expected)
            if problem:
                raise DamagedOutput(
                    f"stored output {key} of block '{block_uuid}' (pipeline '{pipeline}') {problem}: it cannot be "
                    f"reused; run the block again (`mage-prefect run <project> {pipeline} --block {block_uuid}`, "
                    "or the whole pipeline)"
                )

    def _damage(self, key: str, expected: dict) -> str | None:
        size = self._where.size(key)
        if size is None:
            return "is missing"
        if size != expected["size"]:
            return f"is {size} bytes, not the {expected['size']} it was written with (truncated or changed)"
        if expected.get("sha256") and hashlib.sha256(self._where.read_bytes(key)).hexdigest() != expected["sha256"]:
            return "does not match the checksum it was written with (changed)"
        return None

    def _write(self, key: str, value: Any) -> tuple[str, dict]:
        """Persist one output; its key and its facts for the completion record."""
        serializer = serializer_for(value)
        try:
            return self._write_with(serializer, key, value)
        except Exception:
            if isinstance(serializer, PickleSerializer):
                raise
            # e.g. a DataFrame parquet cannot hold (non-string column names, mixed object columns)
            return self._write_with(PickleSerializer(), key, value)

    def _write_with(self, serializer: Serializer, key: str, value: Any) -> tuple[str, dict]:
        """Write a Prefect result record as ResultStore.write would, but each file whole (the
        location's write) and with its size and checksum for the completion record; a parquet
        output is encoded straight into its file."""
        full_key = f"{key}.{extension(serializer)}"
        store = self._store(serializer)
        record = store.create_result_record(value, key=full_key)
        if isinstance(serializer, ParquetSerializer):  # plain parquet, its metadata record apart
            digest = _Digest()
            self._where.write_stream(full_key, lambda file: serializer.dump(value, digest.of(file)))
            self._where.write_bytes(f"{RECORDS}/{full_key}", record.serialize_metadata())
            return full_key, digest.facts(full_key, digest.hexdigest)
        data = record.serialize_result()
        # a record file is ResultRecord.serialize()'s, the value serialized once for the file and its digest
        content = _record_bytes(record, data)
        self._where.write_bytes(full_key, content)
        digest = _Digest(content)
        # the value alone (a record file also names its own key): the same value, the same digest
        return full_key, digest.facts(full_key, hashlib.sha256(data).hexdigest() if digest.hexdigest else None)

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
        self.verify(pipeline, block_uuid, keys)
        return keys

    def saved(self, pipeline: str, run_id: str, blocks: list[str]) -> list[str]:
        """Those of `blocks` that completed in run `run_id`, with every output intact."""
        found = []
        for block, keys in self._keys(pipeline, run_id, blocks).items():
            try:
                self.verify(pipeline, block, keys)
            except DamagedOutput:
                continue  # run it again
            found.append(block)
        return found


class _Digest:
    """The size of the bytes written and, while that is at most CHECKSUM_LIMIT, their sha256."""

    def __init__(self, data: bytes = b"") -> None:
        self.size, self._sha = 0, hashlib.sha256()
        self.update(data)

    def update(self, data) -> None:
        self.size += memoryview(data).nbytes
        if self._sha is not None and self.size > CHECKSUM_LIMIT:
            self._sha = None
        if self._sha is not None:
            self._sha.update(data)

    @property
    def hexdigest(self) -> str | None:
        return self._sha.hexdigest() if self._sha is not None else None

    def of(self, file) -> _Digesting:
        return _Digesting(file, self)

    def facts(self, key: str, value_sha256: str | None) -> dict:
        """The completion record's facts of the output at `key`."""
        facts = {"key": key, "size": self.size}
        if self.hexdigest is not None:
            facts.update(sha256=self.hexdigest, value_sha256=value_sha256)
        return facts


class _Digesting:
    """A file that also feeds what is written to it to a digest."""

    def __init__(self, file, digest: _Digest):
        self._file, self._digest = file, digest

    def write(self, data) -> int:
        self._digest.update(data)
        return self._file.write(data)

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def _record_bytes(record, data: bytes) -> bytes:
    """What `record.serialize()` returns, given its serialized value."""
    return record.model_copy(update={"result": data}).model_dump_json(serialize_as_any=True).encode()


def _identity(facts: list[dict]) -> str:
    """Outputs' values' checksums (an output too large to checksum: its key), hashed together."""
    return hashlib.sha256("\n".join(f.get("value_sha256") or f["key"] for f in facts).encode()).hexdigest()


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

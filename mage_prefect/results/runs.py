"""Which runs of a pipeline started and how they ended, next to their outputs, so that a run whose
process died (`kill -9`, an OOM kill, a node going away) is found and resumed:

    <pipeline>/runs/active/<run id>.json          a run going on: its process (host, pid), start time
    <pipeline>/runs/<started at>_<run id>.json    an ended run: its final state (names sort by start)
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass

FINISHED = ("Completed", "Skipped", "Resumed")  # another final state (Failed, Crashed, Cancelled): resumable


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    state: str
    started_at: float
    host: str = ""
    pid: int = 0
    ended_at: float | None = None  # None: still going on (or its process died)

    @property
    def resumable(self) -> bool:
        return self.state not in FINISHED


class RunRecords:
    """The run records of one results location (a locations.py Location)."""

    def __init__(self, where):
        self._where = where

    def started(self, pipeline: str, run_id: str) -> None:
        record = {"run_id": run_id, "state": "Running", "started_at": time.time(), "host": _HOST, "pid": os.getpid()}
        self._where.write_bytes(self._active(pipeline, run_id), json.dumps(record).encode())

    def ended(self, pipeline: str, run_id: str, state: str) -> None:
        """Record the run's final state; it is no longer active."""
        active = self._read(self._active(pipeline, run_id))
        started = active.started_at if active else time.time()
        record = {"run_id": run_id, "state": state, "started_at": started, "ended_at": time.time()}
        self._where.write_bytes(f"{pipeline}/runs/{started:017.6f}_{run_id}.json", json.dumps(record).encode())
        self._where.delete(self._active(pipeline, run_id))

    def resumed(self, pipeline: str, run_id: str, by: str) -> None:
        """Run `run_id` is finished now: run `by` resumed it and completed."""
        for key in self._ended_keys(pipeline, run_id):
            record = json.loads(self._where.read_bytes(key))
            record.update(state="Resumed", resumed_by=by)
            self._where.write_bytes(key, json.dumps(record).encode())

    def dead(self, pipeline: str) -> list[RunRecord]:
        """Active runs whose process is gone: started on this machine by a process that has exited."""
        records = [
            self._read(f"{pipeline}/runs/active/{name}") for name in self._where.names(f"{pipeline}/runs/active")
        ]
        return [record for record in records if record and record.host == _HOST and not _alive(record.pid)]

    def last_resumable(self, pipeline: str) -> RunRecord | None:
        """The most recently started run that did not finish (Failed, Cancelled, or Crashed: its
        process died), None when there is none."""
        dead = self.dead(pipeline)
        ended = sorted(name for name in self._where.names(f"{pipeline}/runs") if name.endswith(".json"))
        for name in reversed(ended):
            record = self._read(f"{pipeline}/runs/{name}")
            if record is not None and record.resumable:
                dead.append(record)
                break
        return max(dead, key=lambda record: record.started_at, default=None)

    def every(self, pipeline: str) -> list[RunRecord]:
        """Every recorded run of the pipeline, oldest first; runs going on (or dead) last."""
        ended = [self._read(f"{pipeline}/runs/{name}") for name in sorted(self._where.names(f"{pipeline}/runs"))]
        active = [self._read(f"{pipeline}/runs/active/{name}") for name in self._where.names(f"{pipeline}/runs/active")]
        return [record for record in ended + active if record is not None]

    def forget(self, pipeline: str, run_id: str) -> None:
        for key in self._ended_keys(pipeline, run_id):
            self._where.delete(key)

    def _ended_keys(self, pipeline: str, run_id: str) -> list[str]:
        """The ended record of run `run_id` (its name starts with the start time, unknown here)."""
        names = self._where.names(f"{pipeline}/runs")
        return [f"{pipeline}/runs/{name}" for name in names if name.endswith(f"_{run_id}.json")]

    @staticmethod
    def _active(pipeline: str, run_id: str) -> str:
        return f"{pipeline}/runs/active/{run_id}.json"

    def _read(self, key: str) -> RunRecord | None:
        data = self._where.read_bytes(key)
        if data is None:
            return None
        fields = json.loads(data)
        return RunRecord(
            fields["run_id"],
            fields["state"],
            fields["started_at"],
            fields.get("host", ""),
            fields.get("pid", 0),
            fields.get("ended_at"),
        )


_HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

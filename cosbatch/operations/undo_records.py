"""Undo records: the state a task overwrites, as lines of a CSV manifest.

One line per task: `Bucket,Key,VersionId,State` (Key URL-encoded as in manifests, State the
URL-encoded JSON of {"op", "before", "after"}). A job's record files, concatenated, are the
manifest of its undo job (Fields Bucket, Key, VersionId, Ignore), so an undo job reads its
records segment by segment, as any job reads its manifest.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from cosbatch.manifests import Task

#: The manifest Fields of an undo job: the record files as they are.
UNDO_MANIFEST_FIELDS = ["Bucket", "Key", "VersionId", "Ignore"]


@dataclass(frozen=True)
class UndoRecord:
    """One task's state: `before` is what the job overwrote, `after` what it set."""

    task: Task
    op: str  # "tagging"
    before: Any
    after: Any

    def line(self) -> str:
        state = json.dumps({"op": self.op, "before": self.before, "after": self.after}, separators=(",", ":"))
        return (f"{self.task.bucket},{quote_plus(self.task.key, safe='/')},{self.task.version_id or ''},"
                f"{quote_plus(state)}\n")


def parse_line(line: str) -> UndoRecord:
    bucket, key, version, state = next(csv.reader([line]))
    doc = json.loads(unquote_plus(state))
    return UndoRecord(Task(bucket, unquote_plus(key), version or None), doc["op"], doc["before"], doc["after"])


def parse_records(data: bytes) -> list[UndoRecord]:
    return [parse_line(line) for line in data.decode().splitlines() if line.strip()]


def records_body(records: list[UndoRecord]) -> bytes:
    return "".join(r.line() for r in records).encode()


def record_key(undo_dir: str, seg_no: int, pending: bool = False) -> str:
    """Segment `seg_no`'s record file: `.pending.csv` holds every task's state, captured before
    the segment's first run (a re-run reuses it); `.csv` the tasks that succeeded in its last run."""
    return f"{undo_dir}/seg-{seg_no:06d}{'.pending' if pending else ''}.csv"


def is_final_record_key(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.startswith("seg-") and name.endswith(".csv") and not name.endswith(".pending.csv")

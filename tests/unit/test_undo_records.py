"""Undo records read back as they were written, and their files are a valid CSV manifest."""

from __future__ import annotations

from cosbatch.manifests import CsvLayout, Task
from cosbatch.manifests.csv_manifest import parse_csv_line
from cosbatch.models import ManifestField
from cosbatch.operations.undo_records import (
    UNDO_MANIFEST_FIELDS,
    UndoRecord,
    is_final_record_key,
    parse_records,
    record_key,
    records_body,
)


def test_records_round_trip_and_read_as_manifest_lines():
    records = [UndoRecord(Task("bk", "a key, with \"quotes\" ü+%/x", None), "tagging", [["k", "v,=&"]], []),
               UndoRecord(Task("bk", "v", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"), "delete", "v1", "marker-2")]
    body = records_body(records)
    assert parse_records(body) == records
    layout = CsvLayout(tuple(ManifestField(f) for f in UNDO_MANIFEST_FIELDS))
    tasks = [parse_csv_line(line, layout, n) for n, line in enumerate(body.splitlines(keepends=True), start=1)]
    assert tasks == [r.task for r in records]


def test_record_keys():
    assert record_key("r/job-1/undo", 7) == "r/job-1/undo/seg-000007.csv"
    assert record_key("r/job-1/undo", 7, pending=True) == "r/job-1/undo/seg-000007.pending.csv"
    assert is_final_record_key(record_key("u", 1)) and not is_final_record_key(record_key("u", 1, pending=True))

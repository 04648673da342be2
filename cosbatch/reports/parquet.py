"""The Parquet report option: the CSV report's columns, typed (keys as they are, not URL-encoded)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from cosbatch.operations import TaskResult
from cosbatch.reports.layout import result_message

SCHEMA = pa.schema(
    [
        ("Bucket", pa.string()),
        ("Key", pa.string()),
        ("VersionId", pa.string()),
        ("TaskStatus", pa.string()),
        ("ErrorCode", pa.string()),
        ("HTTPStatusCode", pa.int32()),
        ("ResultMessage", pa.string()),
    ]
)


def parquet_bytes(results: Sequence[TaskResult]) -> bytes:
    table = pa.table(
        {
            "Bucket": [r.bucket for r in results],
            "Key": [r.key for r in results],
            "VersionId": [r.version_id for r in results],
            "TaskStatus": [r.status for r in results],
            "ErrorCode": [r.error_code or None for r in results],
            "HTTPStatusCode": [r.http_status for r in results],
            "ResultMessage": [result_message(r) for r in results],
        },
        schema=SCHEMA,
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def read_parquet_rows(data: bytes) -> list[dict]:
    return pq.read_table(io.BytesIO(data)).to_pylist()

"""Reading a finished job's completion report back, as one pyarrow Table.

The report's manifest.json lists every results file (CSV or Parquet); their rows
are gathered in manifest order under the Parquet report's schema (typed columns,
keys decoded), whichever format the job wrote.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import TERMINAL
from cosbatch.models import Job
from cosbatch.reports.layout import ReportLocation, parse_csv_row
from cosbatch.reports.parquet import SCHEMA


def report_location(job: Job) -> ReportLocation:
    if not job.report.enabled:
        raise InvalidRequest(f"job {job.job_id} has no completion report (Report.Enabled is false)")
    return ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)


def _get(client: Any, bucket: str, key: str) -> bytes:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise InvalidRequest(f"cannot read report object s3://{bucket}/{key}: {exc}") from None


def _csv_table(data: bytes) -> pa.Table:
    rows = [parse_csv_row(line) for line in data.decode().splitlines() if line]
    for row in rows:
        row["VersionId"] = row["VersionId"] or None
        row["ErrorCode"] = row["ErrorCode"] or None
        row["HTTPStatusCode"] = int(row["HTTPStatusCode"]) if row["HTTPStatusCode"] else None
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def read_report_table(client: Any, job: Job, task_status: str | None = None) -> pa.Table:
    """Every row of a finished job's report (only `succeeded` or `failed` rows if asked)."""
    if task_status is not None:
        if not isinstance(task_status, str) or task_status.lower() not in ("succeeded", "failed"):
            raise InvalidRequest(f"task_status must be 'succeeded' or 'failed' (or None for every row), "
                                 f"not {task_status!r}")
        task_status = task_status.lower()
    location = report_location(job)  # refused first when the job has no report at all
    if job.status not in TERMINAL:
        raise InvalidRequest(f"job {job.job_id} is {job.status.value}; its report is written when it finishes")
    manifest = json.loads(_get(client, location.bucket, location.manifest_key))
    tables = [SCHEMA.empty_table()]
    for result in manifest.get("Results", []):
        if task_status is not None and result.get("TaskExecutionStatus") != task_status:
            continue
        data = _get(client, result["Bucket"], result["Key"])
        if result["Key"].endswith(".parquet"):
            tables.append(pq.read_table(io.BytesIO(data)).cast(SCHEMA))
        else:
            tables.append(_csv_table(data))
    return pa.concat_tables(tables)

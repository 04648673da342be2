"""Where report files go and what a results row looks like.

Layout under <bucket>/<prefix>/job-<id>/ : results/*.csv (no header; failed and
succeeded tasks in separate files), manifest.json (the S3 report manifest), and
job.json (the job itself: operation, parameters, final status, counts, failure
reasons, as the seed asks the report to state).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

from cosbatch.operations import TaskResult

REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ReportLocation:
    bucket: str
    prefix: str
    job_id: str

    @property
    def job_dir(self) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/job-{self.job_id}" if prefix else f"job-{self.job_id}"

    def results_key(self, seg_no: int, status: str, ext: str = "csv") -> str:
        return f"{self.job_dir}/results/seg-{seg_no:06d}-{status}.{ext}"

    @property
    def manifest_key(self) -> str:
        return f"{self.job_dir}/manifest.json"

    @property
    def job_key(self) -> str:
        return f"{self.job_dir}/job.json"


def _safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free-text cells."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def result_message(r: TaskResult) -> str:
    """ResultMessage: the success message, or the failure class and the storage's message."""
    return r.message if r.succeeded or not r.failure_kind else f"{r.failure_kind}: {r.message}"


def format_csv_row(r: TaskResult) -> str:
    """One results line. Keys are URL-encoded as in manifests, so a report reads back as one."""
    message = result_message(r)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [
            r.bucket,
            quote_plus(r.key, safe="/"),
            r.version_id or "",
            r.status,
            _safe_cell(r.error_code),
            "" if r.http_status is None else str(r.http_status),
            _safe_cell(message.replace("\n", " ")),
        ]
    )
    return buf.getvalue()


def parse_csv_row(line: str) -> dict[str, str]:
    """A results line back to its fields (Key decoded)."""
    cells = next(csv.reader([line]))
    names = [n.strip() for n in REPORT_SCHEMA.split(",")]
    row = dict(zip(names, cells, strict=True))
    row["Key"] = unquote_plus(row["Key"])
    return row

"""Where report files go and what a results row looks like.

Layout under <bucket>/<prefix>/job-<id>/ : results/*.csv (no header; failed and
succeeded tasks in separate files), manifest.json (the S3 report manifest), and
job.json (the job itself: operation, parameters, final status, counts, failure
reasons, as the seed asks the report to state).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

from cosbatch.manifests.csv_manifest import escape_cell, unescape_cell
from cosbatch.operations import TaskResult

REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
#: Cells written with escape_cell: every free-text column (Key is URL-encoded instead).
_ESCAPED = ("VersionId", "ErrorCode", "ResultMessage")


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

    @property
    def trial_manifest_key(self) -> str:
        """A trial run's report (cosbatch:trial-tasks): the trial's results files, as manifest.json."""
        return f"{self.job_dir}/trial/manifest.json"

    @property
    def trial_job_key(self) -> str:
        return f"{self.job_dir}/trial/job.json"

    @property
    def undo_dir(self) -> str:
        """Where an undoable job (cosbatch:undoable) records the state its tasks overwrite."""
        return f"{self.job_dir}/undo"

    @property
    def undo_manifest_key(self) -> str:
        """The manifest of the job's undo job: its undo records, concatenated."""
        return f"{self.job_dir}/undo-manifest.csv"


#: Everything str.splitlines() breaks a line at: a report row must stay one physical line.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """Free text as it goes into a report cell: line breaks become spaces."""
    return _LINE_BREAKS.sub(" ", text)


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
            escape_cell(one_line(r.version_id or "")),
            r.status,
            escape_cell(one_line(r.error_code)),
            "" if r.http_status is None else str(r.http_status),
            escape_cell(one_line(message)),
        ]
    )
    return buf.getvalue()


def parse_csv_row(line: str) -> dict[str, str]:
    """A results line back to its fields (Key decoded)."""
    cells = next(csv.reader([line]))
    names = [n.strip() for n in REPORT_SCHEMA.split(",")]
    row = dict(zip(names, cells, strict=True))
    row["Key"] = unquote_plus(row["Key"])
    for name in _ESCAPED:
        row[name] = unescape_cell(row[name])
    return row

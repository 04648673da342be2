"""What a job's failed tasks were, by error code, and where its report is.

Each failed-results file a worker writes carries its rows' error codes ("ErrorCodes" in the
segment's result-file descriptors), so the counts are read from the store, not the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from cosbatch.models import Job
from cosbatch.store.base import Segment

#: Failed tasks whose error code was not recorded (the job's report is disabled).
UNRECORDED = "Unrecorded"


def failures_by_code(job: Job, segments: Iterable[Segment]) -> dict[str, int]:
    """Failed tasks by ErrorCode, most frequent first; failures no results file names are
    counted under "Unrecorded" (a job without a report writes none)."""
    counts: Counter[str] = Counter()
    for seg in segments:
        for f in seg.result_files:
            if f.get("TaskExecutionStatus") == "failed":
                counts.update(f.get("ErrorCodes") or {UNRECORDED: int(f.get("Rows", 0))})
    rest = job.progress_summary.number_of_tasks_failed - sum(counts.values())
    if rest > 0:
        counts[UNRECORDED] += rest
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def failures_text(by_code: dict[str, int]) -> str:
    """"NoSuchKey: 2, AccessDenied: 1" (or "none")."""
    return ", ".join(f"{code}: {n}" for code, n in by_code.items()) or "none"


def report_url(job: Job) -> str | None:
    """s3://bucket/prefix/job-<id>/, where the job's completion report is (None if disabled)."""
    if not job.report.enabled:
        return None
    prefix = (job.report.prefix or "").strip("/")
    return f"s3://{job.report.bucket_name}/{prefix + '/' if prefix else ''}job-{job.job_id}/"

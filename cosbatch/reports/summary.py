"""What a job's failed tasks were, by error code, and where its report is.

Each failed-results file a worker writes carries its rows' error codes ("ErrorCodes" in the
segment's result-file descriptors), so the counts are read from the store, not the report: the
store keeps each job's sum over its segments (`JobStore.failure_codes`), so reading them costs
the same for a job of ten tasks or ten million.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from cosbatch.models import Job
from cosbatch.store.base import UNRECORDED, Segment, failure_codes

__all__ = ["DRY_RUN", "UNRECORDED", "failures_by_code", "failures_text", "report_not_written", "report_url"]


def failures_by_code(job: Job, recorded: Mapping[str, int] | Iterable[Segment]) -> dict[str, int]:
    """Failed tasks by ErrorCode, most frequent first; failures no results file names are
    counted under "Unrecorded" (a job without a report writes none).

    `recorded`: the codes the job's results files record, as `JobStore.failure_codes` keeps them;
    or the job's segments, to sum them from (reads every segment: callers need not)."""
    if isinstance(recorded, Mapping):
        counts: Counter[str] = Counter({code: n for code, n in recorded.items() if n > 0})
    else:
        counts = Counter()
        for seg in recorded:
            counts.update(failure_codes(seg.result_files, strict=False))
    rest = job.progress_summary.number_of_tasks_failed - sum(counts.values())
    if rest > 0:
        counts[UNRECORDED] += rest
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def failures_text(by_code: dict[str, int]) -> str:
    """"NoSuchKey: 2, AccessDenied: 1" (or "none")."""
    return ", ".join(f"{code}: {n}" for code, n in by_code.items()) or "none"


#: How every summary of a dry-run job says it is one (CLI summary, describe-job, console).
DRY_RUN = "dry run: nothing was changed"


def report_not_written(job: Job) -> str | None:
    """Why the job's completion report was not written (its failure reasons say), else None."""
    codes = {f.failure_code for f in job.failure_reasons}
    if "ReportBucketNotFound" in codes:
        return "cannot be written: its bucket does not exist"
    if "ReportWriteError" in codes:
        return "could not be written: see ReportWriteError"
    return None


def report_url(job: Job) -> str | None:
    """s3://bucket/prefix/job-<id>/, where the job's completion report is (None if disabled)."""
    if not job.report.enabled:
        return None
    prefix = (job.report.prefix or "").strip("/")
    return f"s3://{job.report.bucket_name}/{prefix + '/' if prefix else ''}job-{job.job_id}/"

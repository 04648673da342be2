"""What a job's failed tasks were, by error code, and where its report is.

Each failed-results file a worker writes carries its rows' error codes ("ErrorCodes" in the
segment's result-file descriptors), so the counts are read from the store, not the report: the
store keeps each job's sum over its segments (`JobStore.failure_codes`), so reading them costs
the same for a job of ten tasks or ten million.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.models.job import UNDO_OF_TAG
from cosbatch.store.base import UNRECORDED, Segment, failure_codes

__all__ = ["DRY_RUN", "UNRECORDED", "failures_by_code", "failures_text", "is_undo_job", "manifest_text",
           "operation_text", "report_not_written", "report_text", "report_url", "status_text", "suspended_label",
           "undo_of"]


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


def status_text(job: Job) -> str:
    """The status as every view shows it: a Complete job with failed tasks is never a plain
    "Complete" ("Complete with 3 failed tasks")."""
    failed = job.progress_summary.number_of_tasks_failed
    if job.status is JobStatus.COMPLETE and failed:
        return f"{job.status.value} with {failed} failed task{'s' if failed != 1 else ''}"
    return job.status.value


def suspended_label(job: Job) -> str:
    """The label of a job's SuspendedCause: "Suspended" while it is, "Was suspended" after (the
    cause, a trial's "confirm to run the rest", no longer asks anything of the user)."""
    return "Suspended" if job.status is JobStatus.SUSPENDED else "Was suspended"


def undo_of(job: Job) -> str | None:
    """The job an undo job undoes (its cosbatch:undo-of tag), else None."""
    return next((t.value for t in job.tags if t.key == UNDO_OF_TAG), None)


def is_undo_job(job: Job) -> bool:
    return undo_of(job) is not None


def operation_text(job: Job) -> str:
    """The operation and its parameters; an undo job says what it restores, a dry run that it
    changed nothing."""
    params = ", ".join(f"{k}={v}" for k, v in job.operation.params.wire().items())
    undone = undo_of(job)
    if undone is not None:
        return f"undo of job {undone}: restores what its {job.operation.name} ({params}) overwrote"
    return f"{job.operation.name} ({params})" + (f"; {DRY_RUN}" if job.dry_run else "")


def report_not_written(job: Job) -> str | None:
    """Why the job's completion report was not written (its failure reasons say), else None."""
    codes = {f.failure_code for f in job.failure_reasons}
    if "ReportBucketNotFound" in codes:
        return "cannot be written: its bucket does not exist"
    if "ReportWriteError" in codes:
        return "could not be written: see ReportWriteError"
    return None


def manifest_text(job: Job) -> str:
    """Where the job's manifest is (its ARN and format), or the bucket it is generated from."""
    if job.manifest is not None:
        return f"{job.manifest.location.object_arn} ({job.manifest.spec.format.value})"
    gen = job.manifest_generator.s3_job_manifest_generator if job.manifest_generator else None
    return f"generated from {gen.source_bucket if gen else '?'}"


def report_text(job: Job) -> str:
    """The report as describe-job and the notebook show it: where and which tasks, "none: ..."
    with why when it was not written, or "disabled"."""
    where = report_url(job)
    if where is None:
        return "disabled"
    why = report_not_written(job)
    return f"{where} ({job.report.scope.value})" if why is None else f"none: {where} {why}"


def report_url(job: Job) -> str | None:
    """s3://bucket/prefix/job-<id>/, where the job's completion report is (None if disabled)."""
    if not job.report.enabled:
        return None
    prefix = (job.report.prefix or "").strip("/")
    return f"s3://{job.report.bucket_name}/{prefix + '/' if prefix else ''}job-{job.job_id}/"

"""How a command that waits for a job ends: its exit code and its one-line summary.

Exit codes (docs/exit-codes.md): 0 every task succeeded; 1 an error; 2 a refused request or
usage error; 3 the job completed with failed tasks; 4 the job Failed or was Cancelled; 5 the
job did not finish (it waits for confirmation, or --timeout was reached); 130 interrupted.
"""

from __future__ import annotations

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.reports.summary import DRY_RUN, failures_text, report_not_written, report_url

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TASKS_FAILED = 3
EXIT_JOB_FAILED = 4
EXIT_NOT_FINISHED = 5


def exit_code(job: Job) -> int:
    if job.status is JobStatus.COMPLETE:
        return EXIT_TASKS_FAILED if job.progress_summary.number_of_tasks_failed else EXIT_OK
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return EXIT_JOB_FAILED
    return EXIT_NOT_FINISHED


def summary_line(job: Job, by_code: dict[str, int]) -> str:
    """One line: status, counts, failures by error code, where the report is."""
    p = job.progress_summary
    total = "?" if p.total_number_of_tasks is None else str(p.total_number_of_tasks)
    status = job.status.value
    if job.failure_reasons:
        status += " (" + "; ".join(f"{f.failure_code}: {f.failure_reason}" for f in job.failure_reasons) + ")"
    elif job.status is JobStatus.SUSPENDED and (job.status_update_reason or "").startswith("Trial:"):
        status += f" ({job.status_update_reason})"  # a trial run's outcome, and what confirming runs
    elif job.status is JobStatus.SUSPENDED and job.suspended_cause:
        status += f" ({job.suspended_cause})"
    if job.dry_run:
        status += f", {DRY_RUN}"
    text = (f"Job {job.job_id} {status}: {p.tasks_run}/{total} tasks run, {p.number_of_tasks_succeeded} "
            f"succeeded{p.copied_and_skipped()}, {p.number_of_tasks_failed} failed")
    if p.number_of_tasks_failed:
        text += f" (by error code: {failures_text(by_code)})"
    url = report_url(job)
    if url is None:
        return text + "; report disabled"
    if (why := report_not_written(job)) is not None:
        return text + f"; no report ({url} {why})"
    written = job.status in (JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED)
    return text + f"; report {'at' if written else 'will be at'} {url}"

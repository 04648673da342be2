"""`cosbatch run` without --job-id: process every runnable job, then say how each one that
moved on ended (one summary line per job) and exit by the worst outcome, so a run whose jobs
failed, or completed with failed tasks, never looks like plain success.

Exit code: 4 if a job Failed or was Cancelled, else 3 if one completed with failed tasks, else 0;
a job left waiting for confirmation (Suspended) is said, but is no failure. 5 when --timeout
ran out with jobs still running (they go on at the next `cosbatch run`).
"""

from __future__ import annotations

import argparse
import sys

from cosbatch.cli.outcome import (
    EXIT_JOB_FAILED,
    EXIT_NOT_FINISHED,
    EXIT_OK,
    EXIT_TASKS_FAILED,
    exit_code,
    summary_line,
)
from cosbatch.cli.running import run_jobs
from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import TERMINAL, JobStatus

_SETTLED = TERMINAL | {JobStatus.SUSPENDED}
#: The worse outcome wins; a Suspended job (exit 5 when waited for alone) is no failure here.
_RANK = {EXIT_OK: 0, EXIT_NOT_FINISHED: 0, EXIT_TASKS_FAILED: 1, EXIT_JOB_FAILED: 2}


def run_all(scheduler: Scheduler, service: JobService, args: argparse.Namespace) -> int:
    before = {j.job_id: j.status for j in scheduler.store.jobs_in(set(JobStatus) - TERMINAL)}
    timed_out = False
    try:
        run_jobs(scheduler, args)
    except TimeoutError:
        timed_out = True
    out = sys.stderr if args.output == "json" else sys.stdout
    code, still = EXIT_OK, []
    for job_id, status in before.items():
        job = service.describe_job(job_id)
        if job.status not in _SETTLED:
            still.append(job_id)
            continue
        if job.status is status:  # e.g. Suspended before and after: nothing happened to it
            continue
        print(summary_line(job, service.failures_by_code(job)), file=out, flush=True)
        code = max(code, exit_code(job), key=lambda c: _RANK.get(c, 0))
    if timed_out:
        print(f"cosbatch: Timeout: --timeout {args.timeout:g} s reached with {len(still)} job(s) not finished "
              "(running ones are Paused; the next `cosbatch run` resumes them): " + ", ".join(still),
              file=sys.stderr)
        return EXIT_NOT_FINISHED
    return code

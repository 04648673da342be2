"""Running jobs from the command line: the storages a command can reach, and driving a
Scheduler with a progress bar (`run`, `create-job --wait`, `quickstart`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from cosbatch import logs
from cosbatch.cli import interrupt
from cosbatch.cli.progress import CTRL_C_HINT, ProgressBar
from cosbatch.controller import Scheduler
from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.storage import StorageCatalog

TIMEOUT_REASON = "--timeout reached: resumed by the next `cosbatch run`"
TIMEOUT_GRACE_S = 10.0
#: Log events a progress line says already (shown with -v).
_SHOWN_EVENTS = ("job_waiting_for_storage",)
#: Jobs a progress bar shows as running (and Preparing ones waiting for their storage).
_RUNNING = (JobStatus.ACTIVE, JobStatus.PAUSING, JobStatus.CANCELLING, JobStatus.FAILING, JobStatus.COMPLETING)


def storages_from_args(args: argparse.Namespace) -> StorageCatalog:
    """The storages this command can reach: --storage-config's, plus the --endpoint-url one."""
    path = getattr(args, "storage_config", None) or os.environ.get("COSBATCH_STORAGE_CONFIG")
    return StorageCatalog.from_env(args.endpoint_url, args.region, path)


def resume_args(args: argparse.Namespace) -> list[str]:
    """The runner words the resuming `cosbatch run` needs (a job does not keep its runner)."""
    return interrupt.runner_args(getattr(args, "runner", "direct"), getattr(args, "runner_option", None) or [])


def run_jobs(scheduler: Scheduler, args: argparse.Namespace, only_job: str | None = None,
             on_interrupt: Callable[[], None] | None = None) -> None:
    """Drive the scheduler with a progress bar until idle (or until `only_job` settles).
    Ctrl-C leaves the jobs Paused (cosbatch.cli.interrupt; `on_interrupt` runs before a forced exit).

    With `only_job`, the scheduler must drive that job alone (Scheduler(only_jobs=...)); a job
    bound to a storage this process lacks is StorageNotConfigured, and stays untouched."""
    if only_job is not None:
        job = scheduler.store.get_job(only_job)
        scheduler.storage_of(job)
        scheduler.target_storage_of(job)
    bar = ProgressBar(force=bool(args.progress), hint=CTRL_C_HINT) if args.progress is not False else None
    store = scheduler.store
    # The progress line says a job waits for its storage; the log repeats it with -v only.
    quiet = logs.hide(*_SHOWN_EVENTS) if bar is not None and not getattr(args, "verbose", 0) else None

    running_before: set[str] = set()

    def tick() -> None:
        if bar is None:
            return
        if only_job:
            bar.show([store.get_job(only_job)])
            return
        running = [j for j in store.jobs_in((*_RUNNING, JobStatus.PREPARING))
                   if j.status is not JobStatus.PREPARING or j.storage_wait is not None]
        ids = {j.job_id for j in running}
        ended = [store.get_job(job_id) for job_id in sorted(running_before - ids)]
        if ended:  # a last line for each job that stopped running: never a stale frame
            bar.show(ended, final=True)
        running_before.clear()
        running_before.update(ids)
        bar.show(running)

    def settled() -> bool:
        status = store.get_status(only_job)  # type: ignore[arg-type]
        return status in TERMINAL or status is JobStatus.SUSPENDED

    # Log records (-v) go above a bar drawn in place, never into the middle of its line.
    with bar.above_logs() if bar is not None else contextlib.nullcontext():
        try:
            with interrupt.sigterm_as_interrupt():
                scheduler.run_until_idle(on_tick=tick, timeout_s=args.timeout, done=settled if only_job else None)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (interrupt.Terminated)
            if bar is not None:
                bar.close()
            # ends the process if a pipeline will not stop
            interrupt.pause_running_jobs(scheduler, on_interrupt, exc, resume_args(args))
            raise
        except TimeoutError:
            # Given up on: leave the jobs resumable (Paused), never Active with nobody running them.
            scheduler.pause_own_jobs(TIMEOUT_REASON, TIMEOUT_GRACE_S)
            _finish(scheduler, bar, only_job)
            raise
        except BaseException:
            _finish(scheduler, bar, None)
            raise
        finally:
            if quiet is not None:
                logs.LOGGER.removeFilter(quiet)
        _finish(scheduler, bar, only_job)
    if scheduler.skipped_jobs and only_job is None:
        print(f"cosbatch: left {len(scheduler.skipped_jobs)} job(s) alone: they are bound to storages this "
              "process does not have (see --storage-config): " + ", ".join(sorted(scheduler.skipped_jobs)),
              file=sys.stderr)


def _finish(scheduler: Scheduler, bar: ProgressBar | None, only_job: str | None) -> None:
    """The last progress line (the job as it settled), then wait for the pipelines to end."""
    try:
        if bar is not None:
            if only_job:
                bar.show([scheduler.store.get_job(only_job)], final=True)
            bar.close()
    finally:
        scheduler.close()

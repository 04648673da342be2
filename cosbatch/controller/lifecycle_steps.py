"""Lifecycle stepping: each pass's moves of jobs through their statuses.

Owns what one `Scheduler.step()` does to jobs: reap pipelines that ended, prepare New jobs (and
keep those waiting for their storage waiting), settle draining and orphaned jobs, stop jobs over
their failure threshold, start and preempt jobs by priority within capacity, and write reports
and trial outcomes as jobs end or pause for confirmation. Every move is a compare-and-set in the
store, so a pass can be cut short anywhere and the next one redoes what is left.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime

from cosbatch import logs
from cosbatch.control import worker_lease_prefix
from cosbatch.control.http_channel import channel_url
from cosbatch.control.plan import JobPlan, ReportTarget, SegmentRef
from cosbatch.controller.cosbatch_tags import (
    SKIP_IDENTICAL,
    UNDO_OF,
    UNDOABLE,
    VERIFY,
    failure_threshold,
    option_value,
)
from cosbatch.controller.estimate import make_estimate
from cosbatch.controller.pipeline_run import Run
from cosbatch.controller.preparer import generated_manifest_ref, prepare_job
from cosbatch.controller.runner_gate import RunnerGate
from cosbatch.controller.storage_errors import StorageUnreachable
from cosbatch.controller.storage_waits import WAITING
from cosbatch.controller.trial import SUSPENDED_CAUSE, trial_reason, trial_tasks
from cosbatch.controller.undo_checks import unversioned_delete_warning
from cosbatch.errors import (
    ConfigError,
    CosbatchError,
    InvalidRequest,
    ManifestError,
)
from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import FailureReason, Job, ProgressSummary, ReportFormat, utcnow
from cosbatch.operations import segment_tasks_for
from cosbatch.reports import finalize_report, write_trial_report
from cosbatch.reports.summary import failures_by_code
from cosbatch.settings import Settings
from cosbatch.storage import StorageClients
from cosbatch.store import SegmentState
from cosbatch.store.base import JobStore
from launch import run_plan

S = JobStatus
#: StatusUpdateReason of a job that failed in Preparing, by failure code.
_PREPARE_FAILED = {
    "StorageUnreachable": "storage unreachable",
    "AccessDenied": "storage access denied",
    "CredentialsNotSet": "storage credentials not set",
    "ReportBucketNotFound": "report bucket not found",
    "TargetBucketNotFound": "target bucket not found",
    "InvalidRequest": "trial run refused",
}


class LifecycleSteps:
    """The scheduler's passes over jobs (a part of `Scheduler`; its state is the scheduler's)."""

    store: JobStore
    settings: Settings
    runs: dict[str, Run]
    clients: StorageClients
    runner_gate: RunnerGate
    _failures: dict[str, int]
    _retry_at: dict[str, float]
    _dead_worker_seen: dict[str, float]
    _rates: dict[str, float | None]
    _first_results: dict[str, tuple[datetime, int]]
    _wake: threading.Event

    def _reap_finished(self) -> None:
        for job_id, run in list(self.runs.items()):
            if not run.done.is_set():
                continue
            del self.runs[job_id]
            self._dead_worker_seen.pop(job_id, None)
            if run.error is not None:
                if self._wait_for_runner(job_id, self.runner_gate.recheck()):
                    continue  # the runner went away: not the job's fault
                permanent = isinstance(run.error, CosbatchError) and run.error.permanent
                self._pipeline_failed(job_id, repr(run.error), permanent=permanent)
            else:
                self._failures.pop(job_id, None)

    def _prepare_new(self) -> None:
        waits = self._storage_waits
        for job in self._jobs_in((S.NEW, S.PREPARING)):
            if not waits.due(job.job_id):
                continue  # waiting for its storage: backing off
            if job.status is S.NEW and not self.store.transition(job.job_id, S.NEW, S.PREPARING):
                continue
            logs.event("job_preparing", job_id=job.job_id)
            try:
                size = segment_tasks_for(job.operation, self.settings.segment_size)
                target = self.clients.get(job.target_storage) if job.target_storage else None
                total, segments = prepare_job(job, self.client_for(job), size, target, storage=self.storage_of(job),
                                              target_storage=self.target_storage_of(job))
            except CosbatchError as exc:
                if isinstance(exc, StorageUnreachable):
                    keep, new = waits.failed(job, exc.message, exc.brief)
                    if keep:
                        if new:  # StatusUpdateReason says what it waits for; history once per reason
                            self.store.transition(job.job_id, S.PREPARING, S.PREPARING, reason=WAITING + exc.message)
                        logs.event("job_waiting_for_storage", level=logging.WARNING, job_id=job.job_id,
                                   reason=exc.message)
                        continue
                waits.done(job)
                # Typed errors keep their code (ManifestError's, CredentialsNotSet, a trial's InvalidRequest, ...).
                code = exc.code if isinstance(exc, ManifestError | ConfigError | InvalidRequest) else "InvalidManifest"
                self.store.transition(
                    job.job_id, S.PREPARING, S.FAILED,
                    failure=FailureReason.of(code, exc.message), reason=_PREPARE_FAILED.get(code, "manifest could not be used"),
                )
                # No report into a bucket found missing: the write could only fail on S3, and a storage
                # that makes buckets on PUT (SeaweedFS) would be left with one nobody asked for.
                if code != "ReportBucketNotFound":
                    not_written = self._write_report(self.store.get_job(job.job_id))
                    if not_written is not None:
                        # The job says so: no summary may point at a report that is not there.
                        self.store.add_failure(job.job_id, not_written)
                logs.event("job_failed", job_id=job.job_id, code=code, reason=exc.message)
                continue
            waited = waits.done(job)
            reason = None if waited is None else f"storage reachable again after {waited:.0f} s"
            warning = None if option_value(job.tags, UNDOABLE) else unversioned_delete_warning(job, self.client_for(job))
            if warning is not None:
                reason = warning if reason is None else f"{reason}; {warning}"
                logs.event("job_warning", level=logging.WARNING, job_id=job.job_id, warning=warning)
            self.store.replace_segments(job.job_id, segments)
            trial = trial_tasks(job)
            if trial is not None:  # a trial is itself the request to confirm: it runs at once
                first = f"Trial: running {trial} of {total} tasks, then waiting for confirmation"
                self.store.transition(job.job_id, S.PREPARING, S.READY, total_tasks=total,
                                      reason=first if reason is None else f"{reason}; {first}")
            elif job.confirmation_required:
                self._estimate(self.store.get_job(job.job_id).model_copy(update={"progress_summary": ProgressSummary(
                    total_number_of_tasks=total)}))
                self.store.transition(
                    job.job_id, S.PREPARING, S.SUSPENDED, total_tasks=total, reason=reason,
                    suspended_cause="Job requires confirmation: update its status to Ready to run it",
                )
            else:
                self.store.transition(job.job_id, S.PREPARING, S.READY, total_tasks=total, reason=reason)
            logs.event("job_prepared", job_id=job.job_id, tasks=total, segments=len(segments))

    def _settle(self) -> None:
        """Finish draining jobs whose pipeline has stopped; relaunch orphaned Active jobs."""
        for job in self._jobs_in((S.ACTIVE, S.PAUSING, S.CANCELLING, S.FAILING, S.COMPLETING)):
            if job.job_id in self.runs:
                continue
            if job.status is S.ACTIVE:
                if self.store.segments(job.job_id, (SegmentState.PENDING, SegmentState.RUNNING)):
                    if time.monotonic() >= self._retry_at.get(job.job_id, 0.0) and not self._wait_for_runner(
                            job.job_id, self.runner_gate.unavailable()):
                        self._launch(job)  # orphaned by a crash, stopped early, or a failed run: run what is left
                elif self.store.segments(job.job_id, (SegmentState.HELD,)):
                    self._trial_done(job)
                elif self.store.transition(job.job_id, S.ACTIVE, S.COMPLETING):
                    self._finish(job.job_id, S.COMPLETING, S.COMPLETE)
            elif job.status is S.PAUSING:
                self.store.reset_running_segments(job.job_id)
                self.store.transition(job.job_id, S.PAUSING, S.PAUSED, reason=job.status_update_reason)
                logs.event("job_paused", job_id=job.job_id)
            elif job.status is S.CANCELLING:
                self._finish(job.job_id, S.CANCELLING, S.CANCELLED)
            elif job.status is S.FAILING:
                self._finish(job.job_id, S.FAILING, S.FAILED)
            elif job.status is S.COMPLETING:
                self._finish(job.job_id, S.COMPLETING, S.COMPLETE)

    def _check_thresholds(self) -> None:
        for job in self._jobs_in((S.ACTIVE,)):
            run = job.progress_summary.tasks_run
            if run and job.job_id not in self._first_results and run < (trial_tasks(job) or 0):
                # When a trial's first results came: its estimate tells the pipeline's start from its rate.
                self._first_results[job.job_id] = (utcnow(), run)
            threshold = failure_threshold(self.settings.threshold, job.tags)  # the job's tag, if any
            p = job.progress_summary
            total = p.total_number_of_tasks or 0
            if threshold.exceeded(total, p.number_of_tasks_succeeded, p.number_of_tasks_failed):
                run = p.tasks_run
                # Counts at the moment the job is stopped: the tasks already running then finish,
                # so its final progress (and report) can show more tasks run than this.
                reason = (
                    f"{p.number_of_tasks_failed} of the first {run} tasks run failed "
                    f"({100 * p.number_of_tasks_failed / run:.1f}%), over the "
                    f"{100 * threshold.ratio:g}% failure threshold; tasks already running were let finish"
                )
                if self.store.transition(
                    job.job_id, S.ACTIVE, S.FAILING,
                    failure=FailureReason.of("FailureThresholdExceeded", reason),
                    reason="task failure threshold exceeded",
                ):
                    logs.event("job_failing", job_id=job.job_id, reason=reason)

    def _schedule(self) -> None:
        runnable = self._jobs_in((S.READY, S.PAUSED))  # priority desc, then oldest first
        if runnable and self.runner_gate.unavailable():
            return  # they wait in Ready or Paused until the runner answers (RunnerGate)
        while runnable and len(self.runs) < self.settings.capacity:
            self._start(runnable.pop(0))
        if not runnable:
            return
        best = runnable[0]
        if self._jobs_in((S.PAUSING,)):
            return  # one preemption at a time
        active = [j for j in self._jobs_in((S.ACTIVE,)) if j.job_id in self.runs]
        if not active:
            return
        victim = min(active, key=lambda j: (j.priority, -j.creation_time.timestamp()))
        if best.priority > victim.priority:
            self.store.transition(
                victim.job_id, S.ACTIVE, S.PAUSING,
                reason=f"preempted by higher-priority job {best.job_id}",
            )
            logs.event("job_preempted", job_id=victim.job_id, by=best.job_id)

    def _start(self, job: Job) -> None:
        if not self.store.transition(job.job_id, job.status, S.ACTIVE):
            return
        logs.event("job_active", job_id=job.job_id, priority=job.priority)
        self._launch(self.store.get_job(job.job_id))

    def _plan(self, job: Job) -> JobPlan:
        self.store.reset_running_segments(job.job_id)
        pending = self.store.segments(job.job_id, (SegmentState.PENDING,))
        run_id = uuid.uuid4().hex[:12]  # a new run, never the graph of an earlier one
        report = None
        if job.report.enabled:
            report = ReportTarget(
                job.report.bucket_name, job.report.prefix or "", job.report.scope.value,
                (job.report.format or ReportFormat.S3_CSV).value,
            )
        store_url = self.store.url
        if self.settings.worker_channel_url and self.settings.worker_secret:
            store_url = channel_url(self.settings.worker_channel_url, self.settings.worker_secret, job.job_id)
        return JobPlan(
            job_id=job.job_id,
            store_url=store_url,
            storage=self.storage_of(job),
            target_storage=self.target_storage_of(job),
            operation=job.operation.wire(),
            segments=tuple(
                SegmentRef(s.seg_no, s.source, s.start, s.end, s.first_line, s.task_count, run_id)
                for s in pending
            ),
            report=report,
            dry_run=job.dry_run,
            concurrency=self.settings.concurrency,
            verify=bool(option_value(job.tags, VERIFY)),
            skip_identical=bool(option_value(job.tags, SKIP_IDENTICAL)),
            undoable=bool(option_value(job.tags, UNDOABLE)),
            undo_of=option_value(job.tags, UNDO_OF),
        )

    def _launch(self, job: Job) -> None:
        self._retry_at.pop(job.job_id, None)
        self._rates.pop(job.job_id, None)
        self.store.release_leases(worker_lease_prefix(job.job_id))  # workers of earlier runs
        plan = self._plan(job)
        run = Run(job.job_id)
        self.runs[job.job_id] = run
        self._share_rates(force=True)
        if not plan.segments:
            run.done.set()
            return

        def target() -> None:
            try:
                run_plan(plan, self.settings.runner)
            except BaseException as exc:  # reported through the job's status, never lost
                run.error = exc
            finally:
                run.done.set()
                self._wake.set()

        run.thread = threading.Thread(target=target, name=f"cosbatch-job-{job.job_id[:8]}", daemon=True)
        run.thread.start()
        logs.event("pipeline_started", job_id=job.job_id, segments=len(plan.segments), run_id=plan.segments[0].run_id)

    def _write_report(self, job: Job) -> FailureReason | None:
        if not job.report.enabled:
            return None
        try:
            location = finalize_report(self.client_for(job), job, self.store.segments(job.job_id))
        except CosbatchError as exc:
            logs.event("report_failed", job_id=job.job_id, error=exc.message)
            return FailureReason.of("ReportWriteError", exc.message)
        logs.event("report_written", job_id=job.job_id, bucket=location.bucket, prefix=location.job_dir)
        return None

    def _trial_done(self, job: Job) -> None:
        """A trial's tasks have all run: write its report, then wait in Suspended for confirmation
        with the trial's outcome as StatusUpdateReason. Repeated whole after a crash in between."""
        p = job.progress_summary
        reason = trial_reason(p.number_of_tasks_succeeded, p.number_of_tasks_failed,
                              failures_by_code(job, self.store.failure_codes(job.job_id)),
                              (p.total_number_of_tasks or 0) - p.tasks_run)
        if job.report.enabled:
            try:
                location = write_trial_report(self.client_for(job), job.model_copy(update={
                    "status": S.SUSPENDED, "status_update_reason": reason}), self.store.segments(job.job_id))
                logs.event("trial_report_written", job_id=job.job_id, bucket=location.bucket,
                           key=location.trial_manifest_key)
            except CosbatchError as exc:  # the trial's outcome is in the reason; the final report still comes
                logs.event("trial_report_failed", logging.WARNING, job_id=job.job_id, error=exc.message)
        self._estimate(job, trial_end=utcnow(), first_results=self._first_results.pop(job.job_id, None))
        if self.store.transition(job.job_id, S.ACTIVE, S.SUSPENDED, reason=reason, suspended_cause=SUSPENDED_CAUSE):
            logs.event("trial_done", job_id=job.job_id, reason=reason)

    def _estimate(self, job: Job, trial_end: datetime | None = None,
                  first_results: tuple[datetime, int] | None = None) -> None:
        """Record what running the rest of the job will take, before it waits in Suspended. An
        estimate that cannot be made is logged and left out; it never holds up the job."""
        try:
            estimate = make_estimate(job, self.store, self.client_for(job), self.storage_of(job),
                                     self.target_storage_of(job), trial_end, first_results)
        except Exception as exc:  # sampling reads the manifest and HEADs objects: storage trouble
            logs.event("estimate_failed", logging.WARNING, job_id=job.job_id, error=f"{type(exc).__name__}: {exc}")
            estimate = None
        self.store.set_estimate(job.job_id, estimate)

    def _finish(self, job_id: str, current: JobStatus, target: JobStatus) -> None:
        """Write the report (stating the final status), then move to the final status."""
        assert target in TERMINAL
        # Live counters of a segment no pipeline will finish are not results: drop them, so
        # the job's counts are exactly the report's rows.
        self.store.reset_running_segments(job_id)
        job = self.store.get_job(job_id)
        final_view = job.model_copy(update={"status": target})
        failure = self._write_report(final_view)
        if failure is not None and target is S.COMPLETE:
            target = S.FAILED
        self.store.transition(job_id, current, target, failure=failure)
        logs.event("job_finished", job_id=job_id, status=target.value)
        self._drop_working_manifest(job)

    def _drop_working_manifest(self, job: Job) -> None:
        """EnableManifestOutput=false: the generated manifest was a working copy; remove it."""
        gen = job.manifest_generator.s3_job_manifest_generator if job.manifest_generator else None
        if gen is None or gen.enable_manifest_output:
            return
        ref = generated_manifest_ref(job, gen)
        try:
            self.client_for(job).delete_object(Bucket=ref.bucket, Key=ref.key)
        except Exception as exc:  # the job's outcome stands; the leftover is logged
            logs.event("working_manifest_left", logging.WARNING, job_id=job.job_id, bucket=ref.bucket,
                       key=ref.key, error=f"{type(exc).__name__}: {exc}")

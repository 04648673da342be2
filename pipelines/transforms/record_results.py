"""RecordResults: persist each segment's outcome (report files, then the segment row).

The results file is written before the segment is marked done, so a crash in
between only re-runs the segment (whose file is then overwritten): no task is
ever lost or reported twice.

Recording runs on a small writer pool so that the next segment's operations start
while this one's file is uploaded (each segment otherwise left storage idle for
one PUT and one store write); the bundle finishes only when every segment it
carried is recorded, and a failed write fails the bundle, which Beam retries.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from cosbatch import logs
from cosbatch.control import JobControl, StopSignal
from cosbatch.control.plan import JobPlan
from cosbatch.models import ReportFormat, ReportScope
from cosbatch.operations.skip_identical import is_skipped
from cosbatch.reports import ReportLocation, write_segment_results
from cosbatch.storage.clients import hold_client, let_go_client
from cosbatch.store import SegmentState
from pipelines.transforms import metrics
from pipelines.transforms.apply_operation import SegmentOutcome
from pipelines.transforms.plan_transform import PlanTransform


class _RecordSegmentFn(beam.DoFn):
    MAX_PENDING = 4  # segments whose results wait in memory for their upload

    def __init__(self, plan: JobPlan) -> None:
        self.plan = plan

    def setup(self) -> None:
        # With a report to write, its client is made now on a writer thread, while the operations
        # run (~20-50 ms of botocore, else paid after a segment's last task, before its results
        # are recorded: for a one-object job, after the copy). Without a report, none is made.
        self.control = JobControl.open(self.plan.store_url, self.plan.job_id)
        self.writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cosbatch-record")
        self.pending: deque[Future] = deque()
        self._client: Future | None = None
        if self.plan.report is not None:
            # Shared with the manifest reader in this process (one client per run, not one each).
            self._client = self.writer.submit(hold_client, self.plan.storage)

    @property
    def client(self) -> Any:
        """The report's client (made in setup; its error, if any, fails the write that needs it)."""
        return None if self._client is None else self._client.result()

    def start_bundle(self) -> None:
        self.pending.clear()

    def process(self, outcome: SegmentOutcome):
        seg_no, results, stopped = outcome
        if stopped is StopSignal.PAUSE:
            # Abandon: the segment runs again, whole, when the job resumes. What ran is recorded
            # first (report rows and counts), and stays until that run replaces it: a job cancelled
            # while Paused reports every task that did run.
            self._record(seg_no, results, stopped)
            self.control.abandon_segment(seg_no, len(results))
            metrics.SEGMENTS_ABANDONED.inc()
            return
        while len(self.pending) >= self.MAX_PENDING:
            self._recorded(self.pending.popleft())
        self.pending.append(self.writer.submit(self._record, seg_no, results, stopped))
        return
        yield  # a generator: outputs are emitted in finish_bundle

    def _record(self, seg_no: int, results: list, stopped: StopSignal | None) -> tuple[int, int, int]:
        files: list[dict] = []
        report = self.plan.report
        if report is not None and results:
            location = ReportLocation(report.bucket, report.prefix, self.plan.job_id)
            files = write_segment_results(
                self.client, location, seg_no, results, ReportScope(report.scope), ReportFormat(report.format)
            )
        ok = sum(1 for r in results if r.succeeded)
        state = SegmentState.DONE if stopped is None else \
            SegmentState.RUNNING if stopped is StopSignal.PAUSE else SegmentState.STOPPED  # PAUSE: abandoned next
        retries = sum(r.retries for r in results)
        skipped = sum(1 for r in results if r.succeeded and is_skipped(r.message))
        self.control.segment_progress(seg_no, state, ok, len(results) - ok, files, retries, skipped)
        if retries:
            logs.event("segment_retries", job_id=self.plan.job_id, segment=seg_no, retries=retries)
        return seg_no, ok, len(results) - ok

    @staticmethod
    def _recorded(future: Future) -> tuple[int, int, int]:
        """Wait for one segment's recording (re-raising its error); counted here, on Beam's thread."""
        outcome = future.result()
        metrics.SEGMENTS_DONE.inc()
        return outcome

    def finish_bundle(self):
        while self.pending:
            yield GlobalWindows.windowed_value(self._recorded(self.pending.popleft()))

    def teardown(self) -> None:
        self.writer.shutdown(wait=True)
        if self._client is not None and self._client.exception() is None:
            self._client = None
            let_go_client(self.plan.storage)
        self.control.close()


class RecordResults(PlanTransform):

    def expand(self, outcomes):
        return outcomes | "Record" >> beam.ParDo(_RecordSegmentFn(self.plan))

"""ApplyOperation: run the job's operation on every task of a segment.

One boto3 client and one thread pool per DoFn instance (setup), bounded
concurrency inside the bundle, retries with backoff per task. Between tasks the
DoFn obeys JobControl: on pause/cancel/fail it starts no new object operation.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from itertools import islice
from typing import Any, NamedTuple

import apache_beam as beam

from cosbatch.control import JobControl, StopSignal
from cosbatch.control.plan import JobPlan
from cosbatch.manifests import Task
from cosbatch.models import JobOperation
from cosbatch.operations import (
    RetryPolicy,
    RetryStopped,
    TaskResult,
    client_for,
    operation_for,
    run_with_retries,
)
from cosbatch.operations.dry_run import DryRunOperation
from cosbatch.store import SegmentState
from pipelines.transforms import metrics
from pipelines.transforms.rate_limit import bucket_for
from pipelines.transforms.read_manifest import SegmentBatch
from pipelines.transforms.undo import with_undo


class SegmentOutcome(NamedTuple):
    seg_no: int
    results: list[TaskResult]
    stopped: StopSignal | None  # None: every task of the segment ran


class _ApplyOperationFn(beam.DoFn):
    def __init__(self, plan: JobPlan, retry: RetryPolicy) -> None:
        self.plan = plan
        self.retry = retry

    def setup(self) -> None:
        n = self.plan.concurrency
        # Retries are ours (counted, classified); botocore makes a single attempt.
        self.operation = operation_for(JobOperation.model_validate(self.plan.operation), self.plan.storage,
                                       self.plan.target_storage, self.plan.verify, self.plan.skip_identical)
        if self.plan.dry_run:
            self.operation = DryRunOperation(self.operation)
        self.operation = with_undo(self.plan, self.operation)
        self._client: Any = None  # made on first use: a stopped job's bundles need none (Dask sets up per partition)
        self.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="cosbatch-op")
        self.control = JobControl.open(self.plan.store_url, self.plan.job_id, self.plan.control_poll_s)
        self.control.register_worker()
        self.limiter = bucket_for(self.plan.job_id)  # shared by this process's DoFns and threads

    @property
    def client(self) -> Any:
        if self._client is None:
            n = self.plan.concurrency
            self._client = client_for(self.operation, self.plan.storage.tuned(max_attempts=1, max_pool_connections=n + 4))
        return self._client

    def _run_one(self, operation: Any, task: Task, stop: threading.Event) -> TaskResult:
        """The task's result; RetryStopped if the job stopped while it waited to be tried again."""
        return run_with_retries(task, lambda: operation.apply(self.client, task), self.retry,
                                sleep=stop.wait, stopping=stop.is_set)

    def _stop_signal(self) -> StopSignal | None:
        """The controller's word: stop (and why), or go on at the rate it allows this worker."""
        signal = self.control.stop_signal()
        self.limiter.set_rate(self.control.rate)
        return signal

    def process(self, batch: SegmentBatch):
        seg_no, tasks = batch
        if self.control.segment_recorded(seg_no):
            # Recorded already: a runner redoing a lost worker's output (Dask) must not redo it.
            return
        signal = self._stop_signal()
        if signal is not None:
            yield SegmentOutcome(seg_no, [], signal)
            return
        self.control.segment_progress(seg_no, SegmentState.RUNNING, 0, 0)
        _ = self.client  # made here, once, before the threads share it
        # An operation may look at the segment as a whole first (skip-identical: listings).
        operation = self.operation.for_segment(self.client, tasks) if hasattr(self.operation, "for_segment") \
            else self.operation
        if hasattr(operation, "begin_segment"):  # undo: record the state first, or read the records
            operation.begin_segment(self.client, seg_no, tasks)
        results: list[TaskResult] = []
        total = len(tasks)
        if hasattr(operation, "split_settled"):  # tasks settled without a request (skip-identical's listings)
            settled, tasks = operation.split_settled(tasks)
            results.extend(TaskResult(t.bucket, t.key, t.version_id, True, 200, "", message) for t, message in settled)
        if hasattr(operation, "order"):  # a copy whose sizes are known: the largest start first
            tasks = operation.order(tasks)
        stop = threading.Event()
        lock = threading.Lock()
        pending = iter(tasks)
        batched = hasattr(self.operation, "apply_batch")
        # Batching operations (multi-object delete) send fewer, larger requests from fewer threads,
        # one chunk per thread so the segment runs in a single wave (66 chunks on 64 threads
        # would take two waves, the second one nearly idle).
        threads = min(self.plan.concurrency, getattr(self.operation, "batch_concurrency", self.plan.concurrency))
        batch = max(1, min(getattr(self.operation, "max_batch", 1), -(-len(tasks) // threads)))

        def worker() -> None:
            while not stop.is_set():
                with lock:
                    chunk = list(islice(pending, batch))
                if not chunk:
                    return
                if not self.limiter.acquire(len(chunk), stop):
                    # Stopped while waiting for the rate limit: this chunk never ran.
                    return
                if batched:
                    results.extend(self.operation.apply_batch(  # type: ignore[attr-defined]
                        self.client, chunk, self.retry, sleep=stop.wait, stopping=stop.is_set))
                else:
                    try:
                        results.append(self._run_one(operation, chunk[0], stop))
                    except RetryStopped:
                        return  # no result: the stopped segment accounts for it

        futures = [self.pool.submit(worker) for _ in range(min(threads, len(tasks)))]
        stopped: StopSignal | None = None
        last_push = time.monotonic()
        while True:
            done, not_done = wait(futures, timeout=self.plan.control_poll_s)
            if not not_done:
                break
            signal = self._stop_signal()
            if signal is not None and not stop.is_set():
                stop.set()
                stopped = signal
            if time.monotonic() - last_push >= self.plan.progress_push_s:
                ok = sum(1 for r in results if r.succeeded)
                self.control.segment_progress(seg_no, SegmentState.RUNNING, ok, len(results) - ok)
                last_push = time.monotonic()
        for f in futures:
            f.result()  # re-raise a worker's unexpected error: Beam retries the bundle
        if stopped is None and len(results) < total:
            stopped = self.control.stop_signal() or StopSignal.CANCEL
        if hasattr(operation, "end_segment"):
            operation.end_segment(seg_no, results)
        ok = sum(1 for r in results if r.succeeded)
        metrics.TASKS_SUCCEEDED.inc(ok)
        metrics.TASKS_FAILED.inc(len(results) - ok)
        metrics.TASK_RETRIES.inc(sum(r.retries for r in results))
        yield SegmentOutcome(seg_no, results, stopped)

    def teardown(self) -> None:
        self.pool.shutdown(wait=True)
        if hasattr(self.operation, "close"):
            self.operation.close()  # its own clients (a cross-storage copy's target)
        if self._client is not None:
            self._client.close()
        self.control.close()


class ApplyOperation(beam.PTransform):
    def __init__(self, plan: JobPlan, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.retry = retry or RetryPolicy()

    def expand(self, batches):
        return batches | "Apply" >> beam.ParDo(_ApplyOperationFn(self.plan, self.retry))

"""Invariants the reliability tests check, stated once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from cosbatch.lifecycle import TERMINAL, TRANSITIONS, JobStatus
from cosbatch.store.base import StatusChange


def assert_legal_history(history: Sequence[StatusChange]) -> None:
    """A job's recorded status changes form one chain of arrows of the lifecycle table:
    it starts New, every change leaves the status the previous one entered, every arrow is
    in TRANSITIONS, sequence numbers have no gaps, and nothing follows a final status."""
    assert history, "a job without a history"
    assert history[0].from_status is None and history[0].to_status is JobStatus.NEW, history[0]
    for n, change in enumerate(history, start=1):
        assert change.seq == n, f"history seq {change.seq} at position {n}"
    for prev, change in zip(history, history[1:], strict=False):
        assert change.from_status is prev.to_status, f"{change} does not leave {prev.to_status}"
        assert change.to_status in TRANSITIONS[prev.to_status], (
            f"illegal arrow {prev.to_status.value} -> {change.to_status.value}")
    for change in history[:-1]:
        assert change.to_status not in TERMINAL, f"status changed after final status {change.to_status}"


def assert_exact_report(rows: Sequence[dict], expected_keys: Sequence[str], succeeded: int, failed: int) -> None:
    """Each expected task appears exactly once; the job's counters equal the report's rows."""
    counts = Counter(r["Key"] for r in rows)
    duplicates = [k for k, n in counts.items() if n > 1]
    assert not duplicates, f"{len(duplicates)} tasks reported more than once, e.g. {duplicates[:3]}"
    assert set(counts) == set(expected_keys), (
        f"missing {len(set(expected_keys) - set(counts))}, unexpected {len(set(counts) - set(expected_keys))}")
    ok = sum(1 for r in rows if r["TaskStatus"] == "succeeded")
    assert (ok, len(rows) - ok) == (succeeded, failed)


def assert_completed_exactly(s3, store, job_id: str, keys: Sequence[str], report_bucket: str) -> tuple:
    """The job is Complete with every task succeeded once: its counters, its report's rows (one per
    task) and its history's arrows agree, and the totals kept with the job (counters, retries,
    abandoned tasks, failures by code: none) are its segments' sums. Returns the report's
    (manifest.json, rows)."""
    from cosbatch.controller import JobService
    from tests.integration.helpers import assert_counters_are_segment_sums, read_report

    service = JobService(store)
    job = service.describe_job(job_id)
    assert_counters_are_segment_sums(store, job_id)
    assert job.status is JobStatus.COMPLETE, (job.status, job.failure_reasons)
    p = job.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == len(keys) and p.number_of_tasks_failed == 0
    assert service.failures_by_code(job) == {}
    manifest, rows, _ = read_report(s3, report_bucket, job)
    assert_exact_report(rows, keys, len(keys), 0)
    assert_legal_history(service.history(job_id))
    return manifest, rows

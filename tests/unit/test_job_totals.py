"""A job's failed tasks by error code, its retries and its abandoned tasks are kept with the job
(schema 7): reading them reads no segment, and every write that changes a segment's result files,
retries or abandoned tasks changes the job's by the same amount, in the same transaction, once."""

import random
import sqlite3
import threading
from collections import Counter

import pytest

from cosbatch.controller import JobService
from cosbatch.models import Job, ProgressSummary
from cosbatch.reports.summary import UNRECORDED, failures_by_code
from cosbatch.store import Segment, SegmentState, open_store
from cosbatch.store.pg_schema import LATEST
from cosbatch.store.schema import ADDED_JOB_COLUMNS_7
from cosbatch.store.sqlite import SCHEMA_VERSION
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import assert_counters_are_segment_sums
from tests.unit.test_models import s3_body
from tests.unit.test_store import raw_update

CODES = ["NoSuchKey", "AccessDenied", "SlowDown", "InternalError"]


@pytest.fixture()
def store(any_store):
    return any_store


def _job(store, token: str = "token-1") -> str:
    return JobService(store).create_job(parse_create_job(s3_body(ClientRequestToken=token))).job_id


def _segments(job_id: str, n: int) -> list[Segment]:
    return [Segment(job_id, i, "{}", 0, 1, 1 + 10 * i, 10) for i in range(n)]


def _files(rng: random.Random, ok: int, failed: int) -> list[dict]:
    """Result-file descriptors as a worker reports them: a succeeded file, and the failed tasks
    split over a file per code, sometimes one without ErrorCodes (a job without a report)."""
    files = [{"Bucket": "r", "Key": "ok.csv", "TaskExecutionStatus": "succeeded", "Rows": ok}] if ok else []
    if failed and rng.random() < 0.2:
        return [*files, {"Bucket": "r", "Key": "failed.csv", "TaskExecutionStatus": "failed", "Rows": failed}]
    if failed:
        split = rng.randrange(failed + 1)
        codes = Counter({rng.choice(CODES): split})
        codes[rng.choice(CODES[:2])] += failed - split
        files.append({"Bucket": "r", "Key": "failed.csv", "TaskExecutionStatus": "failed", "Rows": failed,
                      "ErrorCodes": {c: n for c, n in codes.items() if n}})
    return files


def _write(store, job_id: str, seg_no: int, state: SegmentState, ok: int, failed: int, rng: random.Random,
           retries: int = 0) -> None:
    store.update_segment(job_id, seg_no, state, ok, failed, _files(rng, ok, failed), retries=retries)


def test_failure_codes_retries_and_abandoned_tasks_read_no_segment(tmp_path):
    """SQLite: the plan of the failure-code query touches job_failure_codes only, and no statement
    that failures by code (the store's and describe-job's), retries or abandoned_tasks runs names the
    segments table, however many segments the job has."""
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        job_id = _job(store)
        store.replace_segments(job_id, _segments(job_id, 2000))
        rng = random.Random(7)
        for seg in range(0, 2000, 7):
            _write(store, job_id, seg, SegmentState.DONE, 6, 4, rng, retries=1)
        plan = store._all("EXPLAIN QUERY PLAN SELECT code, n FROM job_failure_codes WHERE job_id=? AND n <> 0",
                          (job_id,))
        assert plan and not any("segments" in row["detail"] for row in plan), [row["detail"] for row in plan]
        service = JobService(store)
        statements: list[str] = []
        store._conn().set_trace_callback(statements.append)
        by_code = service.failures_by_code(service.describe_job(job_id))
        retries, abandoned = store.retries(job_id), store.abandoned_tasks(job_id)
        store._conn().set_trace_callback(None)
        assert statements and not any("segments" in s for s in statements), statements
        assert sum(by_code.values()) == 4 * len(range(0, 2000, 7)) and (retries, abandoned) == (286, 0)
        assert by_code == failures_by_code(store.get_job(job_id), store.segments(job_id))
    finally:
        store.close()


def test_no_statement_names_segments_on_either_store(store, monkeypatch):
    """Both stores: the SQL that failure_codes, retries, abandoned_tasks and JobService's failures
    by code send names no segment table."""
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 3))
    _write(store, job_id, 0, SegmentState.DONE, 5, 5, random.Random(1), retries=2)
    sent: list[str] = []
    for name in ("_one", "_all"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda sql, params=(), real=real: sent.append(sql) or real(sql, params))
    job = store.get_job(job_id)
    sent.clear()
    assert sum(JobService(store).failures_by_code(job).values()) == 5
    assert (store.retries(job_id), store.abandoned_tasks(job_id)) == (2, 0)
    assert len(sent) == 3 and not any("segments" in s for s in sent), sent


def test_totals_equal_segment_sums_after_every_kind_of_write(store):
    """Live reports, final ones with failures under several codes (some unrecorded), a repeated
    final report, segments given back by a paused worker, a crash recovery's reset, a new plan:
    after each, the job's failures by code, retries and abandoned tasks are its segments' sums, and
    describe-job's failures by code is what summing the segments gives (SQLite and PostgreSQL)."""
    job_id = _job(store)
    other = _job(store, "token-2")
    store.replace_segments(job_id, _segments(job_id, 8))
    store.replace_segments(other, _segments(other, 2))
    rng = random.Random(27)
    _write(store, other, 0, SegmentState.DONE, 4, 6, rng, retries=3)
    other_codes = store.failure_codes(other)
    service = JobService(store)
    for step in range(200):
        seg = rng.randrange(8)
        kind = rng.choice(["live", "live", "done", "stopped", "abandon", "reset"])
        ok, failed = rng.randrange(8), rng.randrange(6)
        if kind == "live":
            _write(store, job_id, seg, SegmentState.RUNNING, ok, failed, rng, retries=rng.randrange(3))
        elif kind in ("done", "stopped"):
            state = SegmentState.DONE if kind == "done" else SegmentState.STOPPED
            _write(store, job_id, seg, state, ok, failed, rng, retries=rng.randrange(4))
            _write(store, job_id, seg, state, ok + 1, failed + 3, rng, retries=9)  # repeated: ignored
        elif kind == "abandon":
            store.abandon_segment(job_id, seg, ok + failed)
        else:
            store.reset_running_segments(job_id)
        assert_counters_are_segment_sums(store, job_id)
        if step % 20 == 0:
            job = store.get_job(job_id)
            assert service.failures_by_code(job) == failures_by_code(job, store.segments(job_id))
    assert store.failure_codes(job_id) and store.retries(job_id) and store.abandoned_tasks(job_id)
    assert UNRECORDED in store.failure_codes(job_id) or all(c in CODES for c in store.failure_codes(job_id))
    store.replace_segments(job_id, _segments(job_id, 3))  # planned afresh: nothing run, nothing redone
    assert (store.failure_codes(job_id), store.retries(job_id), store.abandoned_tasks(job_id)) == ({}, 0, 0)
    assert_counters_are_segment_sums(store, job_id)
    assert store.failure_codes(other) == other_codes and store.retries(other) == 3  # other jobs untouched
    assert_counters_are_segment_sums(store, other)


def test_concurrent_segment_writers_count_each_write_once(store):
    """Four threads (each its own connection) report, re-report and give back segments of one job
    at once: no write is lost or counted twice, and none deadlocks (PostgreSQL locks the job row
    before its segments; SQLite's write transaction holds the file)."""
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 40))
    errors: list[BaseException] = []

    def writer(first: int) -> None:
        rng = random.Random(first)
        try:
            for _ in range(30):
                seg = first + 4 * rng.randrange(10)
                kind = rng.random()
                if kind < 0.5:
                    _write(store, job_id, seg, SegmentState.RUNNING, rng.randrange(5), rng.randrange(5), rng,
                           retries=rng.randrange(3))
                elif kind < 0.8:
                    _write(store, job_id, seg, SegmentState.DONE, rng.randrange(9), rng.randrange(5), rng,
                           retries=rng.randrange(3))
                else:
                    store.abandon_segment(job_id, seg, rng.randrange(1, 9))
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(first,)) for first in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert_counters_are_segment_sums(store, job_id)
    assert store.failure_codes(job_id)


@pytest.mark.parametrize("codes", [["NoSuchKey"], {"NoSuchKey": "3"}, {"NoSuchKey": None}])
def test_a_report_with_malformed_error_codes_is_refused_whole(store, codes):
    """ErrorCodes that are not code -> count: update_segment raises ValueError (the worker API's
    400) and writes nothing, neither the segment nor the job's totals."""
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 1))
    bad = [{"TaskExecutionStatus": "failed", "Rows": 3, "ErrorCodes": codes}]
    with pytest.raises(ValueError, match="ErrorCodes"):
        store.update_segment(job_id, 0, SegmentState.DONE, 0, 3, bad, retries=1)
    (segment,) = store.segments(job_id)
    assert (segment.state, segment.failed, segment.result_files) == (SegmentState.PENDING, 0, [])
    assert (store.failure_codes(job_id), store.retries(job_id), store.get_job(job_id).progress_summary.tasks_run) \
        == ({}, 0, 0)


def test_failures_by_code_from_codes_or_segments():
    """summary.failures_by_code takes the store's per-job codes or the segments (older callers):
    the same answer, failures no file records under Unrecorded, most frequent first."""
    job = _job_model(failed=12)
    segments = [Segment("j", 0, "{}", 0, 1, 1, 10, SegmentState.DONE, 0, 5, [
        {"TaskExecutionStatus": "failed", "Rows": 5, "ErrorCodes": {"NoSuchKey": 3, "AccessDenied": 2}}]),
        Segment("j", 1, "{}", 0, 1, 11, 10, SegmentState.DONE, 0, 4, [
            {"TaskExecutionStatus": "failed", "Rows": 4}])]
    want = [(UNRECORDED, 7), ("NoSuchKey", 3), ("AccessDenied", 2)]
    assert list(failures_by_code(job, segments).items()) == want
    assert list(failures_by_code(job, {"AccessDenied": 2, "NoSuchKey": 3, UNRECORDED: 4}).items()) == want


def _job_model(failed: int) -> Job:
    """A job whose only field set is its failed-task counter (what failures_by_code reads)."""
    return Job.model_construct(progress_summary=ProgressSummary(number_of_tasks_succeeded=0,
                                                                number_of_tasks_failed=failed))


def _fill_a_job(store) -> str:
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 4))
    rng = random.Random(6)
    _write(store, job_id, 0, SegmentState.DONE, 9, 5, rng, retries=2)
    _write(store, job_id, 1, SegmentState.STOPPED, 1, 3, rng, retries=1)
    store.update_segment(job_id, 2, SegmentState.RUNNING, 4, 2, [
        {"TaskExecutionStatus": "failed", "Rows": 2}])
    store.abandon_segment(job_id, 3, 7)
    return job_id


def _mark_schema_6(store) -> None:
    """Drop what schema 7 added, behind the store's back, and say the store is of schema 6."""
    if store.url.startswith("postgresql://"):
        raw_update(store, "UPDATE jobs SET retries = 0, abandoned_tasks = 0", ())
        raw_update(store, "DROP TABLE job_failure_codes", ())
        raw_update(store, "DELETE FROM schema_migrations WHERE version = 7", ())
    else:
        for column in ADDED_JOB_COLUMNS_7:
            raw_update(store, f"ALTER TABLE jobs DROP COLUMN {column}", ())
        raw_update(store, "DROP TABLE job_failure_codes", ())
        raw_update(store, "UPDATE schema_version SET version = 6", ())


def test_an_upgraded_schema_6_store_fills_the_totals(store):
    """Opening a store of schema 6 fills each job's failures by code, retries and abandoned tasks from
    its segments (here: the schema-7 values dropped behind the store's back and the schema marked 6;
    reopening upgrades it)."""
    job_id = _fill_a_job(store)
    want = (store.failure_codes(job_id), store.retries(job_id), store.abandoned_tasks(job_id))
    assert want[0] and want[1:] == (3, 7)
    _mark_schema_6(store)
    reopened = open_store(store.url)
    try:
        assert (reopened.failure_codes(job_id), reopened.retries(job_id), reopened.abandoned_tasks(job_id)) == want
        assert_counters_are_segment_sums(reopened, job_id)
        if reopened.url.startswith("postgresql://"):
            assert reopened.schema_versions() == list(range(1, LATEST + 1)) and LATEST == 7
    finally:
        reopened.close()


def test_a_sqlite_store_file_of_schema_6_opens(tmp_path):
    """A store file as schema 6 wrote it (no job totals, no job_failure_codes) opens at version 7,
    its jobs' totals filled; and opening it again changes nothing."""
    path = tmp_path / "six.db"
    store = open_store(f"sqlite:///{path}")
    job_id = _fill_a_job(store)
    want = (store.failure_codes(job_id), store.retries(job_id), store.abandoned_tasks(job_id))
    store.close()
    with sqlite3.connect(path) as conn:
        for column in ADDED_JOB_COLUMNS_7:
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.execute("DROP TABLE job_failure_codes")
        conn.execute("UPDATE schema_version SET version = 6")
    conn.close()
    for _ in range(2):
        store = open_store(f"sqlite:///{path}")
        try:
            assert (store.failure_codes(job_id), store.retries(job_id), store.abandoned_tasks(job_id)) == want
            assert store._one("SELECT version FROM schema_version")["version"] == SCHEMA_VERSION == 7
        finally:
            store.close()


def test_malformed_codes_an_older_store_holds_count_nothing_and_do_not_block(store):
    """A segment whose stored ErrorCodes are malformed (as schema 6 let a worker record them): the
    upgrade counts nothing for it and opens, and writing that segment again works, the job's
    totals still its segments' sums."""
    job_id = _fill_a_job(store)
    bad = '[{"TaskExecutionStatus": "failed", "Rows": 2, "ErrorCodes": ["NoSuchKey"]}]'
    raw_update(store, "UPDATE segments SET result_files = ? WHERE job_id = ? AND seg_no = 2", (bad, job_id))
    _mark_schema_6(store)
    reopened = open_store(store.url)
    try:
        assert_counters_are_segment_sums(reopened, job_id)
        _write(reopened, job_id, 2, SegmentState.DONE, 5, 5, random.Random(3))
        assert_counters_are_segment_sums(reopened, job_id)
    finally:
        reopened.close()

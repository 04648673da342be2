"""A job's task counters live on its row (schema 6): DescribeJob never reads segments, and every
write that changes a segment's counters changes the job's by the same amount, exactly once."""

import random
import sqlite3

import pytest

from cosbatch.controller import JobService
from cosbatch.store import Segment, SegmentState, open_store
from cosbatch.store.pg_schema import LATEST
from cosbatch.store.rows import JOB_COLUMNS
from cosbatch.store.schema import ADDED_JOB_COLUMNS_6, ADDED_JOB_COLUMNS_7
from cosbatch.store.sqlite import SCHEMA_VERSION
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import assert_counters_are_segment_sums
from tests.unit.test_models import s3_body
from tests.unit.test_store import raw_update


@pytest.fixture()
def store(any_store):
    return any_store


def _job(store, token: str = "token-1") -> str:
    return JobService(store).create_job(parse_create_job(s3_body(ClientRequestToken=token))).job_id


def _segments(job_id: str, n: int) -> list[Segment]:
    return [Segment(job_id, i, "{}", 0, 1, 1 + 10 * i, 10) for i in range(n)]


def test_reading_a_job_reads_no_segment(tmp_path):
    """SQLite's plan for DescribeJob's query (and ListJobs') touches the jobs table only, and no
    statement a get_job runs names the segments table, whatever the job's segment count."""
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        job_id = _job(store)
        store.replace_segments(job_id, _segments(job_id, 2000))
        plan = store._all(f"EXPLAIN QUERY PLAN SELECT {JOB_COLUMNS} FROM jobs j WHERE j.job_id = ?", (job_id,))
        assert plan and not any("segments" in row["detail"] for row in plan), [row["detail"] for row in plan]
        statements: list[str] = []
        store._conn().set_trace_callback(statements.append)
        store.get_job(job_id)
        store.list_jobs(None)
        store._conn().set_trace_callback(None)
        assert statements and not any("segments" in s for s in statements), statements
    finally:
        store.close()


def test_counters_equal_segment_sums_after_every_kind_of_write(store):
    """Live counters, final ones, a repeated (late) final report, a segment given back by a paused
    worker, running segments reset by a crash recovery, a new plan: after each, the job's counters
    are its segments' sums (on SQLite and on PostgreSQL)."""
    job_id = _job(store)
    other = _job(store, "token-2")
    store.replace_segments(job_id, _segments(job_id, 6))
    store.replace_segments(other, _segments(other, 2))
    store.update_segment(other, 0, SegmentState.DONE, 7, 3, skipped=2)
    rng = random.Random(26)
    for _ in range(120):
        seg = rng.randrange(6)
        kind = rng.choice(["live", "live", "done", "stopped", "abandon", "reset"])
        ok, failed = rng.randrange(8), rng.randrange(3)
        if kind == "live":
            store.update_segment(job_id, seg, SegmentState.RUNNING, ok, failed, skipped=min(ok, 2))
        elif kind in ("done", "stopped"):
            state = SegmentState.DONE if kind == "done" else SegmentState.STOPPED
            store.update_segment(job_id, seg, state, ok, failed, retries=1, skipped=min(ok, 1))
            store.update_segment(job_id, seg, state, ok + 5, failed)  # a repeated report: ignored
        elif kind == "abandon":
            store.abandon_segment(job_id, seg, ok)
        else:
            store.reset_running_segments(job_id)
        assert_counters_are_segment_sums(store, job_id)
    assert store.get_job(job_id).progress_summary.tasks_run == sum(
        s.succeeded + s.failed for s in store.segments(job_id))
    store.replace_segments(job_id, _segments(job_id, 3))  # planned afresh
    assert_counters_are_segment_sums(store, job_id)
    assert store.get_job(job_id).progress_summary.tasks_run == 0
    assert store.get_job(other).progress_summary.number_of_tasks_succeeded == 7  # other jobs untouched
    assert_counters_are_segment_sums(store, other)


def test_an_upgraded_store_fills_counters_from_segments(store):
    """Opening a store from before schema 6 fills each job's counters from its segments (here: the
    counters are zeroed behind the store's back and the schema marked 5; reopening upgrades it)."""
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 3))
    store.update_segment(job_id, 0, SegmentState.DONE, 9, 1)
    store.update_segment(job_id, 1, SegmentState.RUNNING, 4, 0)
    raw_update(store, "UPDATE jobs SET succeeded = 0, failed = 0, skipped = 0", ())
    if store.url.startswith("postgresql://"):
        raw_update(store, "DELETE FROM schema_migrations WHERE version >= 6", ())
    else:
        raw_update(store, "ALTER TABLE jobs DROP COLUMN skipped", ())
        raw_update(store, "ALTER TABLE jobs DROP COLUMN failed", ())
        raw_update(store, "ALTER TABLE jobs DROP COLUMN succeeded", ())
        for column in ADDED_JOB_COLUMNS_7:
            raw_update(store, f"ALTER TABLE jobs DROP COLUMN {column}", ())
        raw_update(store, "DROP TABLE job_failure_codes", ())
        raw_update(store, "UPDATE schema_version SET version = 5", ())
    reopened = open_store(store.url)
    try:
        p = reopened.get_job(job_id).progress_summary
        assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (13, 1)
        assert_counters_are_segment_sums(reopened, job_id)
        if reopened.url.startswith("postgresql://"):
            assert reopened.schema_versions()[-1] == LATEST
    finally:
        reopened.close()


def test_a_sqlite_store_of_schema_5_opens(tmp_path):
    """A store file written by schema 5 (no counter columns) opens, its jobs counted."""
    path = tmp_path / "five.db"
    store = open_store(f"sqlite:///{path}")
    job_id = _job(store)
    store.replace_segments(job_id, _segments(job_id, 2))
    store.update_segment(job_id, 0, SegmentState.DONE, 6, 4)
    store.close()
    with sqlite3.connect(path) as conn:
        for column in [*ADDED_JOB_COLUMNS_6, *ADDED_JOB_COLUMNS_7]:
            conn.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        conn.execute("DROP TABLE job_failure_codes")
        conn.execute("UPDATE schema_version SET version = 5")
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        p = store.get_job(job_id).progress_summary
        assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (6, 4)
        assert store._one("SELECT version FROM schema_version")["version"] == SCHEMA_VERSION
    finally:
        store.close()

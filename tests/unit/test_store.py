"""The store contract, over both stores (sqlite, postgresql): idempotency, compare-and-set transitions,
listing, history, segments, leases, multi-process safety."""

import multiprocessing as mp
import time
from datetime import timedelta

import pytest

from cosbatch.controller import JobService
from cosbatch.errors import IdempotencyConflict, IllegalTransition, InvalidRequest, JobNotFound
from cosbatch.lifecycle import JobStatus as S
from cosbatch.models import utcnow
from cosbatch.store import Segment, SegmentState, open_store
from cosbatch.store.sqlite import SCHEMA_VERSION
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body


@pytest.fixture()
def store(any_store):
    """Every test here runs on SQLite and on PostgreSQL (conftest's `any_store`)."""
    return any_store


@pytest.fixture()
def service(store):
    return JobService(store)


def raw_update(store, sql: str, params: tuple) -> None:
    """Change a row behind the store's back (`?` placeholders), in whichever database it is."""
    if store.url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
    else:
        store._conn().execute(sql, params)


def make(service, **over):
    return service.create_job(parse_create_job(s3_body(**over)))


def test_create_describe_and_idempotency(service):
    job = make(service, ClientRequestToken="tok")
    assert job.status is S.NEW and len(job.job_id) == 36
    again = make(service, ClientRequestToken="tok")
    assert again.job_id == job.job_id
    with pytest.raises(IdempotencyConflict):
        make(service, ClientRequestToken="tok", Priority=99)
    other_account = make(service, ClientRequestToken="tok", AccountId="999999999999")
    assert other_account.job_id != job.job_id
    d = service.describe_job(job.job_id)
    assert d.describe()["Manifest"]["Location"]["ObjectArn"] == "arn:aws:s3:::src/manifests/m.csv"
    with pytest.raises(JobNotFound):
        service.describe_job("no-such-job")
    with pytest.raises(JobNotFound):
        service.describe_job(job.job_id, account_id="999999999999")


def test_a_status_request_without_a_reason_replaces_the_last_reason(store, service):
    """A Paused job's reason ("--timeout reached ...") does not stand beside Cancelled: a request
    without a reason of the user's says what was requested."""
    job = make(service)
    for a, b in ((S.NEW, S.PREPARING), (S.PREPARING, S.READY), (S.READY, S.ACTIVE), (S.ACTIVE, S.PAUSING)):
        assert store.transition(job.job_id, a, b)
    assert store.transition(job.job_id, S.PAUSING, S.PAUSED, reason="--timeout reached: resumed by the next run")
    service.update_job_status(job.job_id, "Cancelled")
    j = store.get_job(job.job_id)
    assert j.status in (S.CANCELLING, S.CANCELLED) and j.status_update_reason == "cancellation requested"
    other = make(service, ConfirmationRequired=True, ClientRequestToken="second")
    assert store.transition(other.job_id, S.NEW, S.PREPARING)
    assert store.transition(other.job_id, S.PREPARING, S.SUSPENDED, reason="Trial: 5 tasks run", suspended_cause="c")
    service.update_job_status(other.job_id, "Ready")
    assert store.get_job(other.job_id).status_update_reason == "run confirmed"
    with pytest.raises(InvalidRequest, match="must be Ready or Cancelled, not 'Bogus'"):
        service.update_job_status(other.job_id, "Bogus")


def test_transitions_are_compare_and_set(store, service):
    job = make(service)
    assert store.transition(job.job_id, S.NEW, S.PREPARING)
    assert not store.transition(job.job_id, S.NEW, S.PREPARING)  # someone else moved it
    with pytest.raises(IllegalTransition):
        store.transition(job.job_id, S.PREPARING, S.COMPLETE)
    assert store.get_status(job.job_id) is S.PREPARING
    assert store.transition(job.job_id, S.PREPARING, S.SUSPENDED, suspended_cause="confirm me", total_tasks=5)
    j = store.get_job(job.job_id)
    assert j.suspended_cause == "confirm me" and j.suspended_date is not None
    assert j.progress_summary.total_number_of_tasks == 5
    service.update_job_status(job.job_id, "Ready", "looks good")
    service.update_job_status(job.job_id, "Cancelled", "changed my mind")
    assert store.get_status(job.job_id) is S.CANCELLING
    assert store.transition(job.job_id, S.CANCELLING, S.CANCELLED)
    j = store.get_job(job.job_id)
    assert j.termination_date is not None and j.status_update_reason == "changed my mind"
    assert [h.to_status for h in store.history(job.job_id)] == [
        S.NEW, S.PREPARING, S.SUSPENDED, S.READY, S.CANCELLING, S.CANCELLED]
    with pytest.raises(IllegalTransition):
        service.update_job_status(job.job_id, "Cancelled")
    with pytest.raises(InvalidRequest):
        service.update_job_status(job.job_id, "Paused")


def test_priority_updates(service):
    job = make(service)
    assert service.update_job_priority(job.job_id, 42).priority == 42
    for bad in (-1, 2147483648, "high", 1.5):
        with pytest.raises(InvalidRequest, match="priority must be an integer"):
            service.update_job_priority(job.job_id, bad)
    with pytest.raises(JobNotFound):
        service.update_job_priority("nope", 1)


def test_list_filters_and_pages(store, service):
    jobs = [make(service, ClientRequestToken=f"t{i}", Description=f"nightly copy {i}") for i in range(25)]
    make(service, ClientRequestToken="x", Description="other account", AccountId="111111111111")
    store.transition(jobs[3].job_id, S.NEW, S.PREPARING)
    page = service.list_jobs("123456789012", max_results=10)
    assert len(page.jobs) == 10 and page.next_token
    seen = [j.job_id for j in page.jobs]
    while page.next_token:
        page = service.list_jobs("123456789012", max_results=10, next_token=page.next_token)
        seen += [j.job_id for j in page.jobs]
    assert sorted(seen) == sorted(j.job_id for j in jobs)
    assert [j.job_id for j in service.list_jobs("123456789012", ["Preparing"]).jobs] == [jobs[3].job_id]
    assert [j.description for j in service.list_jobs("123456789012", text="copy 17").jobs] == ["nightly copy 17"]
    assert [j.job_id for j in service.list_jobs("123456789012", text=jobs[5].job_id[:13]).jobs] == [jobs[5].job_id]
    assert service.list_jobs("123456789012", text="100%").jobs == []
    with pytest.raises(InvalidRequest):
        service.list_jobs("123456789012", max_results=1001)
    with pytest.raises(InvalidRequest):
        service.list_jobs("123456789012", ["Bogus"])
    with pytest.raises(InvalidRequest):
        service.list_jobs("123456789012", next_token="garbage!")


def test_list_only_last_90_days(store, service):
    old = make(service, ClientRequestToken="old")
    new = make(service, ClientRequestToken="new")
    raw_update(store, "UPDATE jobs SET creation_time=? WHERE job_id=?",
               ((utcnow() - timedelta(days=91)).timestamp(), old.job_id))
    ids = [j.job_id for j in service.list_jobs("123456789012").jobs]
    assert ids == [new.job_id]
    assert service.describe_job(old.job_id).job_id == old.job_id  # still describable


def test_segments_counters_are_absolute_and_final(store, service):
    job = make(service)
    segs = [Segment(job.job_id, i, "{}", 0, 10, 1, 10) for i in range(3)]
    store.replace_segments(job.job_id, segs)
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 4, 1)
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 6, 2)  # absolute, not added
    store.update_segment(job.job_id, 1, SegmentState.DONE, 9, 1, [{"Key": "k"}])
    store.update_segment(job.job_id, 1, SegmentState.DONE, 10, 0)  # a retried bundle: ignored
    p = store.get_job(job.job_id).progress_summary
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (15, 3)
    assert store.reset_running_segments(job.job_id) == 1  # the RUNNING one (2 is PENDING already)
    p = store.get_job(job.job_id).progress_summary
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (9, 1)
    assert [s.seg_no for s in store.segments(job.job_id, (SegmentState.PENDING,))] == [0, 2]


def test_held_segments_wait_until_released(store, service):
    """A trial's remaining segments (HELD) are neither run (not PENDING) nor reset; releasing them
    makes them PENDING, once."""
    job = make(service)
    states = [SegmentState.PENDING, SegmentState.HELD, SegmentState.HELD]
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 10, 1, 10, st) for i, st in enumerate(states)])
    assert [s.state for s in store.segments(job.job_id)] == states
    store.update_segment(job.job_id, 0, SegmentState.DONE, 10, 0)
    assert store.reset_running_segments(job.job_id) == 0
    assert [s.seg_no for s in store.segments(job.job_id, (SegmentState.HELD,))] == [1, 2]
    assert store.release_held_segments(job.job_id) == 2
    assert store.release_held_segments(job.job_id) == 0
    assert [s.seg_no for s in store.segments(job.job_id, (SegmentState.PENDING,))] == [1, 2]


def _hammer(url: str, job_id: str, worker: int, n: int) -> None:
    s = open_store(url)
    for i in range(n):
        s.update_segment(job_id, worker, SegmentState.RUNNING, i + 1, 0)
        s.get_job(job_id)
    s.update_segment(job_id, worker, SegmentState.DONE, n, 0)


def test_concurrent_writers_in_other_processes(store, service):
    job = make(service)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 1, 1, 50) for i in range(4)])
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(store.url, job.job_id, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    p = store.get_job(job.job_id).progress_summary
    assert p.number_of_tasks_succeeded == 200
    assert all(s.state is SegmentState.DONE for s in store.segments(job.job_id))


def test_leases(store):
    assert store.acquire_lease("scheduler", "a", 10)
    assert not store.acquire_lease("scheduler", "b", 10)
    assert store.lease_holder("scheduler") == "a"
    store.release_lease("scheduler", "a")
    assert store.acquire_lease("scheduler", "b", 10)


def test_abandoned_segments_count_redone_work(store, service):
    job = make(service)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 1, 1, 100) for i in range(2)])
    files = [{"Key": "results/0-failed.csv", "TaskExecutionStatus": "failed", "Rows": 5, "ErrorCodes": {"NoSuchKey": 5}}]
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 30, 5, files)  # what ran, recorded at the pause
    store.abandon_segment(job.job_id, 0, 35)
    store.update_segment(job.job_id, 1, SegmentState.DONE, 100, 0)
    store.abandon_segment(job.job_id, 1, 100)  # a finished segment is never given back
    assert store.abandoned_tasks(job.job_id) == 35
    seg0, seg1 = store.segments(job.job_id)
    # The tasks that ran stay recorded while the segment waits to run again, whole ...
    assert (seg0.state, seg0.succeeded, seg0.failed, seg0.result_files) == (SegmentState.PENDING, 30, 5, files)
    assert (seg1.state, seg1.succeeded) == (SegmentState.DONE, 100)
    assert store.reset_running_segments(job.job_id) == 0  # ... a pause's or a cancel's reset keeps them
    p = store.get_job(job.job_id).progress_summary
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (130, 5)
    # ... until its next run replaces them.
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 0, 0)
    p = store.get_job(job.job_id).progress_summary
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (100, 0)
    store.update_segment(job.job_id, 0, SegmentState.DONE, 100, 0)
    assert store.get_job(job.job_id).progress_summary.number_of_tasks_succeeded == 200


def test_a_segment_a_runner_runs_again_and_a_crash_reset_count_as_redone(store, service):
    """Flink restarting a lost TaskManager's tasks (or Dask a lost worker's) runs a RUNNING segment
    from its start again; a crashed pipeline's RUNNING segments go back to PENDING: either way what
    they had run is done again, and abandoned_tasks says so (it stayed 0)."""
    job = make(service)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 1, 1, 100) for i in range(3)])
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 0, 0)
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 55, 5)
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 0, 0)  # run again from its start
    assert store.abandoned_tasks(job.job_id) == 60
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 10, 0)  # its progress: nothing redone
    store.update_segment(job.job_id, 1, SegmentState.RUNNING, 20, 2)
    assert store.reset_running_segments(job.job_id) == 2  # a crash: both run again
    assert store.abandoned_tasks(job.job_id) == 60 + 10 + 22
    per_segment = store._all("SELECT abandoned_tasks FROM segments WHERE job_id=? ORDER BY seg_no", (job.job_id,))
    assert [r["abandoned_tasks"] for r in per_segment] == [70, 22, 0]
    # A segment a paused worker gave back (PENDING, counted by abandon_segment) is not counted twice.
    store.update_segment(job.job_id, 2, SegmentState.RUNNING, 30, 0)
    store.abandon_segment(job.job_id, 2, 30)
    store.update_segment(job.job_id, 2, SegmentState.RUNNING, 0, 0)
    assert store.abandoned_tasks(job.job_id) == 92 + 30


def test_storage_binding_rate_limits_and_segment_states(store, service):
    job = service.create_job(parse_create_job(s3_body()), max_ops_per_second=50)
    stored = store.get_job(job.job_id)
    assert stored.storage == service.storages.default.name and stored.target_storage is None
    assert stored.max_ops_per_second == 50.0
    assert service.update_rate_limit(job.job_id, 12.5).max_ops_per_second == 12.5
    assert service.update_rate_limit(job.job_id, None).max_ops_per_second is None
    with pytest.raises(JobNotFound):
        service.update_rate_limit(job.job_id, 5, account_id="999999999999")
    assert store.get_control(job.job_id) == (S.NEW, None)
    store.set_worker_rate(job.job_id, 6.25)
    assert store.get_control(job.job_id) == (S.NEW, 6.25)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 10, 1, 10) for i in range(2)])
    store.update_segment(job.job_id, 1, SegmentState.DONE, 10, 0, [])
    assert store.segment_state(job.job_id, 0) is SegmentState.PENDING
    assert store.segment_state(job.job_id, 1) is SegmentState.DONE
    with pytest.raises(JobNotFound):
        store.segment_state(job.job_id, 7)


def _open_and_close(url: str) -> None:
    open_store(url).close()


def test_postgres_migrations_apply_once_when_processes_start_together(pg_url):
    """PostgreSQL only (migrations are per store): four processes open one fresh database at once;
    the advisory lock makes each migration apply exactly once, and reopening changes nothing."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_open_and_close, args=(pg_url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = open_store(pg_url)
    try:
        from cosbatch.store.pg_schema import LATEST

        assert store.schema_versions() == list(range(1, LATEST + 1))
    finally:
        store.close()


def test_postgres_server_not_there_is_store_unavailable():
    """PostgreSQL only: a URL whose server does not answer fails typed, not with a traceback."""
    from cosbatch.errors import StoreUnavailable
    from tests.support.api_server import free_port

    with pytest.raises(StoreUnavailable) as raised:
        open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    assert raised.value.code == "ServiceUnavailable"


def test_segments_record_when_they_finished(store, service):
    """A segment recorded DONE or STOPPED keeps the moment it was (the throughput chart of a finished
    job is drawn from these); one still pending or running has none."""
    job = make(service)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 1, 1, 10) for i in range(3)])
    before = time.time()
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 4, 0)
    store.update_segment(job.job_id, 1, SegmentState.DONE, 10, 0)
    store.update_segment(job.job_id, 2, SegmentState.STOPPED, 3, 1)
    after = time.time()
    running, done, stopped = store.segments(job.job_id)
    assert running.finished_at is None
    assert before <= done.finished_at <= stopped.finished_at <= after
    store.update_segment(job.job_id, 1, SegmentState.DONE, 10, 0)  # final: its time stays
    assert store.segments(job.job_id)[1].finished_at == done.finished_at


def test_a_sqlite_store_of_schema_3_gains_segment_finish_times(tmp_path):
    """An existing SQLite store (schema 3, no segments.finished_at) opens and is upgraded in place."""
    import sqlite3

    from cosbatch.store.schema import NOTIFICATION_TABLES, TABLES

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for stmt in [*TABLES, *NOTIFICATION_TABLES, "CREATE TABLE schema_version (version INTEGER NOT NULL)"]:
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_version VALUES (3)")
        conn.execute("""INSERT INTO segments(job_id, seg_no, source, start, "end", first_line, task_count, state,
                        succeeded) VALUES ('old', 0, '{}', 0, 1, 1, 5, 'done', 5)""")
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        (old,) = store.segments("old")
        assert (old.state, old.succeeded, old.finished_at) == (SegmentState.DONE, 5, None)
        assert store._one("SELECT version FROM schema_version")["version"] == SCHEMA_VERSION == 7
    finally:
        store.close()


def test_a_store_of_a_newer_schema_is_refused(store):
    """A store written by a newer cosbatch is refused at open with one ConfigError, on either
    store, before it is read or migrated; the message names the store and both versions."""
    from cosbatch.errors import ConfigError

    if store.url.startswith("postgresql://"):
        from cosbatch.store.pg_schema import LATEST as understood

        raw_update(store, "INSERT INTO schema_migrations(version) VALUES (?)", (understood + 1,))
        where = store.url
    else:
        understood = SCHEMA_VERSION
        raw_update(store, "UPDATE schema_version SET version = ?", (understood + 1,))
        where = str(store.path)
    store.close()
    with pytest.raises(ConfigError) as refused:
        open_store(store.url)
    assert refused.value.message == (f"store {where} has schema version {understood + 1}, newer than this "
                                      f"cosbatch understands ({understood}); upgrade cosbatch")

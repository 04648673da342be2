"""Store faults: a full disk, a store locked by another process, an unreadable file (SQLite only:
they are SQLite conditions); an outage mid-job (both stores: a held write lock, a stopped
PostgreSQL server); a PostgreSQL server stopped and started again.

Each request fails with StoreUnavailable (code ServiceUnavailable, HTTP 503), nothing is
half-written, and the scheduler carries on once the store is back. The faults are real
SQLite conditions: SQLITE_FULL from a page limit on the store's own connection (what a
full disk returns), SQLITE_BUSY from a write lock held by another process, SQLITE_NOTADB
from a file that is no database.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.errors import StoreUnavailable
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store import SegmentState, open_store
from cosbatch.store.sqlite import SqliteJobStore
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_legal_history

pytestmark = pytest.mark.reliability


def _snapshot(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("jobs", "job_events", "segments")}


def _fill_disk(store: SqliteJobStore) -> None:
    """Cap the store's database at its current size: the next page it needs is SQLITE_FULL."""
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def _free_disk(store: SqliteJobStore) -> None:
    store._conn().execute("PRAGMA max_page_count = 1073741823")


def test_disk_full_fails_typed_and_writes_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'full.db'}")
    service = JobService(store)
    body = copy_request("src-bucket", "m.csv", "dst-bucket", "rep-bucket", token="first")
    first = service.create_job(parse_create_job(body))
    before = _snapshot(store.path)
    _fill_disk(store)
    # Large requests need new pages: every one fails whole, with the typed error.
    big = dict(body, ClientRequestToken="big", Description="x" * 250)
    failures = []
    for i in range(30):
        try:
            service.create_job(parse_create_job(dict(big, ClientRequestToken=f"big-{i}")))
        except StoreUnavailable as exc:
            failures.append(exc)
    assert failures, "the capped database accepted every insert"
    exc = failures[-1]
    assert exc.code == "ServiceUnavailable" and exc.http_status == 503
    assert "full" in exc.message
    # The connection is usable afterwards (not stuck inside the failed transaction).
    assert service.describe_job(first.job_id).status is S.NEW
    inserted = len(_snapshot(store.path)["jobs"]) - len(before["jobs"])
    after = _snapshot(store.path)
    # Every job that made it in has its first status event; none is half there.
    assert len(after["job_events"]) - len(before["job_events"]) == inserted
    assert {r[0] for r in after["jobs"]} == {r[0] for r in after["job_events"]}
    _free_disk(store)
    later = service.create_job(parse_create_job(dict(big, ClientRequestToken="after")))
    assert service.describe_job(later.job_id).description == "x" * 250
    store.close()


def _hold_write_lock(path, seconds: float) -> subprocess.Popen:
    """Another process that takes the store's write lock and keeps it for `seconds`."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "c.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_locked_store_fails_typed_then_recovers(tmp_path):
    path = tmp_path / "locked.db"
    store = SqliteJobStore(path, busy_timeout_s=0.2)
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request("src-b", "m.csv", "dst-b", None, token="j")))
    holder = _hold_write_lock(path, 4)
    try:
        before = _snapshot(path)
        with pytest.raises(StoreUnavailable) as raised:
            service.update_job_status(job.job_id, "Cancelled", "while locked")
        assert raised.value.code == "ServiceUnavailable" and "locked" in raised.value.message
        with pytest.raises(StoreUnavailable):
            service.update_job_priority(job.job_id, 99)
        with pytest.raises(StoreUnavailable):
            service.create_job(parse_create_job(copy_request("src-b", "m.csv", "dst-b", None, token="k")))
        assert service.describe_job(job.job_id).status is S.NEW  # reads go on (WAL)
        assert _snapshot(path) == before
    finally:
        holder.wait(30)
    done = service.update_job_status(job.job_id, "Cancelled", "after the lock")
    assert done.status is S.CANCELLING
    store.close()


def test_unreadable_store_file_is_a_typed_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database\x00" * 512)
    with pytest.raises(StoreUnavailable) as raised:
        SqliteJobStore(path)
    assert raised.value.code == "ServiceUnavailable"
    missing = tmp_path / "gone"
    store = SqliteJobStore(missing / "cosbatch.db")
    # The directory disappears under a running service; a thread that opens the store now fails typed.
    (missing / "cosbatch.db").unlink()
    for extra in missing.iterdir():
        extra.unlink()
    missing.rmdir()
    (tmp_path / "gone").write_text("a file where the store directory was")
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: errors.append(_try(lambda: store.get_status("x"))))
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], StoreUnavailable)


def _try(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
        return exc
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request, tmp_path):
    """(store URL, a function that makes the store unavailable for a few seconds and returns once it is
    back): SQLite's write lock held by another process, or the PostgreSQL server stopped and started."""
    if request.param == "sqlite":
        path = tmp_path / "outage.db"
        SqliteJobStore(path).close()

        def lock() -> None:
            _hold_write_lock(path, 3).wait(30)

        yield f"sqlite:///{path}", lock
        return
    from tests.support.postgres import start_postgres

    server = start_postgres()
    try:
        def down() -> None:
            server.stop()
            time.sleep(3)
            server.start()

        yield server.create_database(), down
    finally:
        server.remove()


def _open(url: str):
    """A store; SQLite's gives up quickly on a held lock (busy timeout 0.2 s)."""
    if url.startswith("sqlite:///"):
        return SqliteJobStore(url[len("sqlite:///"):], busy_timeout_s=0.2)
    from cosbatch.store.postgres import PostgresJobStore

    return PostgresJobStore(url)


def test_scheduler_waits_out_a_store_outage_and_finishes(s3, make_bucket, outage, settings):
    """The store is unavailable for a few seconds in the middle of a job's life: the serving
    scheduler keeps stepping, and the job completes exactly once. Runs on both stores."""
    from dataclasses import replace

    url, make_outage = outage
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k/{i}" for i in range(1500)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    store = _open(url)
    settings = replace(settings, store_url=store.url, segment_size=100, pipeline_retry_s=0.5)
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token="outage")))
    scheduler = Scheduler(_open(url), settings)
    with running_scheduler(scheduler) as thread:
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 200, 120,
                 what="progress before the outage")
        make_outage()
        assert thread.is_alive()  # the outage did not kill the serving loop
        wait_for(lambda: service.describe_job(job.job_id).status in (S.COMPLETE, S.FAILED), 180,
                 what="the job to end")
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, done.failure_reasons
    assert done.progress_summary.number_of_tasks_succeeded == len(keys)
    assert_legal_history(service.history(job.job_id))
    _, rows, _ = read_report(s3, rep, done)
    assert sorted(r["Key"] for r in rows) == sorted(keys)
    assert all(s.state is SegmentState.DONE for s in store.segments(job.job_id))
    store.close()


def test_postgres_down_is_store_unavailable_and_back_works():
    """PostgreSQL only (its own server): stopped, every call raises StoreUnavailable (503); started
    again on the same port, the same store object works without being reopened."""
    from tests.support.postgres import start_postgres

    server = start_postgres()
    try:
        url = server.create_database()
        store = _open(url)
        service = JobService(store)
        job = service.create_job(parse_create_job(copy_request("src-b", "m.csv", "dst-b", None, token="pg")))
        server.stop()
        for call in (lambda: service.describe_job(job.job_id),
                     lambda: service.update_job_priority(job.job_id, 7),
                     lambda: store.acquire_lease("scheduler", "me", 10),
                     lambda: service.create_job(parse_create_job(copy_request("src-b", "m.csv", "dst-b", None, token="x")))):
            with pytest.raises(StoreUnavailable) as raised:
                call()
            assert raised.value.code == "ServiceUnavailable" and raised.value.http_status == 503
        server.start()
        assert service.update_job_priority(job.job_id, 7).priority == 7
        assert store.acquire_lease("scheduler", "me", 10)
        assert [j.job_id for j in service.list_jobs(job.account_id).jobs] == [job.job_id]
        store.close()
    finally:
        server.remove()


def test_store_unavailable_is_retried_by_serve_forever_without_a_job(tmp_path, settings):
    """An idle controller whose store becomes unavailable keeps running and takes the next job."""
    from dataclasses import replace

    path = tmp_path / "idle.db"
    store = SqliteJobStore(path, busy_timeout_s=0.2)
    scheduler = Scheduler(SqliteJobStore(path, busy_timeout_s=0.2), replace(settings, store_url=store.url))
    try:
        with running_scheduler(scheduler) as thread:
            holder = _hold_write_lock(path, 2)
            time.sleep(0.5)
            assert thread.is_alive()
            holder.wait(30)
            service = JobService(store)
            job = service.create_job(parse_create_job(copy_request("nosuch-src", "m.csv", "nosuch-dst", None,
                                                                  token="after")))
            wait_for(lambda: service.describe_job(job.job_id).status is S.FAILED, 60, what="job handled")
    finally:
        store.close()

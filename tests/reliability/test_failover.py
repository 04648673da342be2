"""Two `cosbatch serve` processes on one PostgreSQL store: SIGKILL the one running a job, the other
takes it over after the scheduler lease expires, and the report is exact (every task once).

One leader schedules: the controller holding the "scheduler" lease (TTL 10 s, renewed while it
serves). Both answer the API. Both processes run on this host, so the survivor sees the holder's
pid is dead and takes the lease at once (Scheduler._hold_lease); on another host it waits out the
TTL, which `test_the_leader_lease_moves_only_when_it_expires` shows on both stores. A PostgreSQL
outage of 20 s stalls both controllers; they recover when it returns and the job ends exactly.
Timings are printed (pytest -s shows them)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.errors import StoreUnavailable
from cosbatch.lifecycle import TERMINAL
from cosbatch.lifecycle import JobStatus as S
from cosbatch.models import Job
from cosbatch.store import SegmentState, open_store
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_legal_history
from tests.support.api_server import ApiServer, start_api_server

pytestmark = pytest.mark.reliability

ACCOUNT = "123456789012"
OUTAGE_S = 20.0


def _serve_two(tmp_path, s3_server, store_url: str, names=("a", "b")) -> list[ApiServer]:
    return [start_api_server(tmp_path / f"serve-{n}", s3_server.endpoint_url, [], "--no-auth", store_url=store_url)
            for n in names]


def _copy_job(s3, make_bucket, service: JobService, objects: int, token: str) -> tuple[Job, str, list[str]]:
    """A copy job of `objects` small objects: (the job, its report bucket, the keys)."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"f/{i:05d}" for i in range(objects)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    return service.create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token=token))), rep, keys


def _assert_exact(s3, service: JobService, store, job: Job, rep: str, keys: list[str]) -> Job:
    """Complete, every task reported once, a legal history, every segment done."""
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, done.failure_reasons
    assert done.progress_summary.number_of_tasks_succeeded == len(keys)
    assert done.progress_summary.number_of_tasks_failed == 0
    assert_legal_history(service.history(job.job_id))
    _, rows, _ = read_report(s3, rep, done)
    counts = Counter(r["Key"] for r in rows)
    assert sorted(counts) == keys and set(counts.values()) == {1}  # every task once, no duplicates
    assert all(s.state is SegmentState.DONE for s in store.segments(job.job_id))
    return done


def _answers(server: ApiServer, job_id: str) -> bool:
    got = server.request("GET", f"/v20180820/jobs/{job_id}", headers={"x-amz-account-id": ACCOUNT})
    return got.status == 200 and job_id.encode() in got.data


def _status(store, job_id: str) -> S | None:
    """The job's status, or None while the store is still coming back."""
    try:
        return store.get_status(job_id)
    except StoreUnavailable:
        return None


def _stop_all(servers: list[ApiServer]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.stop()
    for server in servers:
        print(json.dumps({"serve log tail": server.log()[-600:]}))


def test_second_controller_takes_over_a_killed_leaders_job(s3, make_bucket, s3_server, pg_store, tmp_path):
    servers = _serve_two(tmp_path, s3_server, pg_store.url)
    try:
        service = JobService(pg_store)
        job, rep, keys = _copy_job(s3, make_bucket, service, 2000, "failover")
        owner = wait_for(lambda: pg_store.lease_holder("scheduler"), 60, what="a leader")
        leader = next(s for s in servers if f":{s.process.pid}:" in owner)
        other = next(s for s in servers if s is not leader)
        started = time.monotonic()
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 1000, 180,
                 interval_s=0.05, what="progress before the kill",
                 state=lambda: service.describe_job(job.job_id).status)
        run_before = service.describe_job(job.job_id).progress_summary.tasks_run
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)
        killed = time.monotonic()
        new_owner = wait_for(lambda: (h := pg_store.lease_holder("scheduler")) and h != owner and h, 60,
                             interval_s=0.1, what="the other controller to take the lease")
        taken = time.monotonic()
        assert f":{other.process.pid}:" in new_owner
        wait_for(lambda: service.describe_job(job.job_id).status in (S.COMPLETE, S.FAILED), 300,
                 what="the job to end", state=lambda: service.describe_job(job.job_id).status)
        ended = time.monotonic()
        print(f"\nfailover: {run_before} of {len(keys)} tasks run at the kill, {killed - started:.1f}s after start; "
              f"lease taken over {taken - killed:.1f}s after the kill; job complete {ended - killed:.1f}s "
              f"after the kill ({ended - started:.1f}s in all)")
        done = _assert_exact(s3, service, pg_store, job, rep, keys)
        # The survivor answers the API for the job the dead one started.
        resp = other.request("GET", f"/v20180820/jobs/{job.job_id}", headers={"x-amz-account-id": ACCOUNT})
        assert resp.status == 200 and b"<Status>Complete</Status>" in resp.data
        # The killed controller restarts and becomes the leader (the survivor stops and lets go of the
        # lease): it runs nothing again; the job, its history and its report stay as they were.
        history = service.history(job.job_id)
        report_before = read_report(s3, rep, done)[1]
        servers.extend(_serve_two(tmp_path, s3_server, pg_store.url, names=("a2",)))
        other.stop()
        restarted = servers[-1]
        wait_for(lambda: f":{restarted.process.pid}:" in (pg_store.lease_holder("scheduler") or ""), 60,
                 what="the restarted controller to lead")
        assert _answers(restarted, job.job_id)
        assert service.history(job.job_id) == history
        assert service.describe_job(job.job_id).progress_summary == done.progress_summary
        assert read_report(s3, rep, done)[1] == report_before
    finally:
        _stop_all(servers)


def test_a_database_outage_stalls_both_controllers_and_they_recover(s3, make_bucket, s3_server, tmp_path):
    """PostgreSQL stopped for 20 s in the middle of a job run by one of two controllers: both stay up
    (the API answers 503 ServiceUnavailable meanwhile), and once it is back the job ends exactly."""
    from tests.support.postgres import start_postgres

    pg = start_postgres()  # its own server: stopping it must not touch other tests' databases
    store = open_store(pg.create_database())
    servers = _serve_two(tmp_path, s3_server, store.url)
    try:
        service = JobService(store)
        job, rep, keys = _copy_job(s3, make_bucket, service, 3000, "outage")
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 600, 300,
                 interval_s=0.05, what="progress before the outage",
                 state=lambda: service.describe_job(job.job_id).status)
        run_before = service.describe_job(job.job_id).progress_summary.tasks_run
        down_at = time.monotonic()
        pg.stop()
        try:
            time.sleep(5)
            stalled = [s.request("GET", f"/v20180820/jobs/{job.job_id}", headers={"x-amz-account-id": ACCOUNT})
                       for s in servers]
            assert all(r.status == 503 and b"ServiceUnavailable" in r.data for r in stalled), \
                [(r.status, r.data[:200]) for r in stalled]
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            assert all(s.process.poll() is None for s in servers)  # stalled, not dead
        finally:
            pg.start()
        back_at = time.monotonic()
        wait_for(lambda: _status(store, job.job_id) in TERMINAL, 300, what="the job to end",
                 state=lambda: _status(store, job.job_id))
        ended = time.monotonic()
        print(f"\noutage: {run_before} of {len(keys)} tasks run when the database stopped; down "
              f"{back_at - down_at:.1f}s; job complete {ended - back_at:.1f}s after it returned")
        _assert_exact(s3, service, store, job, rep, keys)
        assert all(s.process.poll() is None and _answers(s, job.job_id) for s in servers)
    finally:
        _stop_all(servers)
        store.close()
        pg.remove()


def test_the_leader_lease_moves_only_when_it_expires(any_store, settings):
    """Across hosts a controller cannot see its peer's PID: the lease's TTL is the only signal.
    Two schedulers in one live process show it, on both stores: the second leads only after the
    first stops renewing and its lease expires."""
    settings = replace(settings, store_url=any_store.url)
    first, second = (Scheduler(open_store(any_store.url), settings, lease_ttl_s=2.0) for _ in range(2))
    try:
        assert first.step()
        assert not second.step()  # the holder is alive and its lease unexpired
        before_renewal = time.monotonic()
        assert first.step() and not second.step()  # renewed by its owner's steps
        wait_for(second.step, 30, what="the second scheduler to take the expired lease")
        moved = time.monotonic() - before_renewal
        print(f"\nlease moved {moved:.2f}s after the last renewal (TTL 2 s)")
        assert moved >= 1.9  # never before the TTL has run out (0.1 s for the clocks' granularity)
        assert not first.step()  # the old leader now stands aside
    finally:
        first.close()
        second.close()

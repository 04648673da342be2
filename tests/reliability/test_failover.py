"""Two `cosbatch serve` processes on one PostgreSQL store: SIGKILL the one running a job, the other
takes it over after the scheduler lease expires, and the report is exact (every task once).

One leader schedules: the controller holding the "scheduler" lease (TTL 10 s, renewed while it
serves). Both answer the API. Both processes run on this host, so the survivor sees the holder's
pid is dead and takes the lease at once (Scheduler._hold_lease); on another host it would wait
out the TTL. Timings are printed (pytest -s shows them)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest

from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store import SegmentState
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_legal_history
from tests.support.api_server import start_api_server

pytestmark = pytest.mark.reliability


def test_second_controller_takes_over_a_killed_leaders_job(s3, make_bucket, s3_server, pg_store, tmp_path):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"f/{i:05d}" for i in range(2000)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    servers = [start_api_server(tmp_path / f"serve-{n}", s3_server.endpoint_url, [], "--no-auth",
                                store_url=pg_store.url) for n in ("a", "b")]
    try:
        service = JobService(pg_store)
        job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token="failover")))
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
        done = service.describe_job(job.job_id)
        assert done.status is S.COMPLETE, done.failure_reasons
        assert done.progress_summary.number_of_tasks_succeeded == len(keys)
        assert done.progress_summary.number_of_tasks_failed == 0
        assert_legal_history(service.history(job.job_id))
        _, rows, _ = read_report(s3, rep, done)
        counts = Counter(r["Key"] for r in rows)
        assert sorted(counts) == keys and set(counts.values()) == {1}  # every task once, no duplicates
        assert all(s.state is SegmentState.DONE for s in pg_store.segments(job.job_id))
        # The survivor answers the API for the job the dead one started.
        resp = other.request("GET", f"/v20180820/jobs/{job.job_id}", headers={"x-amz-account-id": "123456789012"})
        assert resp.status == 200 and b"<Status>Complete</Status>" in resp.data
        # The killed controller restarts and becomes the leader (the survivor stops and lets go of the
        # lease): it runs nothing again; the job, its history and its report stay as they were.
        history = service.history(job.job_id)
        report_before = read_report(s3, rep, done)[1]
        servers.append(start_api_server(tmp_path / "serve-a2", s3_server.endpoint_url, [], "--no-auth",
                                        store_url=pg_store.url))
        other.stop()
        restarted = servers[-1]
        wait_for(lambda: f":{restarted.process.pid}:" in (pg_store.lease_holder("scheduler") or ""), 60,
                 what="the restarted controller to lead")
        assert restarted.request("GET", f"/v20180820/jobs/{job.job_id}",
                                 headers={"x-amz-account-id": "123456789012"}).status == 200
        assert service.history(job.job_id) == history
        assert service.describe_job(job.job_id).progress_summary == done.progress_summary
        assert read_report(s3, rep, done)[1] == report_before
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        for server in servers:
            print(json.dumps({"serve log tail": server.log()[-600:]}))

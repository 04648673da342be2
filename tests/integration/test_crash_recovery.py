"""SIGKILL the controller in the middle of an Active job; a restarted one finishes it, losing nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import wait_for
from tests.integration.helpers import assert_counters_are_segment_sums, copy_request, read_report


def start_controller(store_url: str, endpoint: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", endpoint,
         "run", "--no-progress", "--segment-size", "500"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )


def test_sigkill_mid_job_then_restart(s3, s3_server, make_bucket, store, big_source, tmp_path):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "all.csv", dst, rep, token="crash")))
    with open(tmp_path / "controller.log", "wb") as log:
        first = start_controller(store.url, s3_server.endpoint_url, log)
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 4000, 180, what="progress")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = service.describe_job(job.job_id)
        assert at_kill.status is S.ACTIVE  # nobody finished it
        assert at_kill.progress_summary.tasks_run < len(keys)
        assert_counters_are_segment_sums(store, job.job_id)  # the live segments' totals, as the kill left them

        second = start_controller(store.url, s3_server.endpoint_url, log)
        try:
            assert second.wait(300) == 0
        finally:
            if second.poll() is None:
                second.kill()
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, (tmp_path / "controller.log").read_text()
    p = done.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == len(keys)
    assert_counters_are_segment_sums(store, job.job_id)  # the reset after the crash counted once
    assert service.failures_by_code(done) == {}
    _, rows, _ = read_report(s3, rep, done)
    counts = Counter(r["Key"] for r in rows)
    assert len(counts) == len(keys) and max(counts.values()) == 1  # each task exactly once
    copied = sum(pg.get("KeyCount", 0) for pg in s3.get_paginator("list_objects_v2").paginate(Bucket=dst))
    assert copied == len(keys)
    history = [h.to_status for h in service.history(job.job_id)]
    assert history == [S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE]

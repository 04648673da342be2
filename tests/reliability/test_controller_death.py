"""SIGKILL the controller at random moments of a job's life, over repeated trials.

Each trial aims the kill at one status (Preparing, Active, Pausing, Completing, in a
shuffled order): a separate process watches the store and sends SIGKILL the moment a job
enters that status (plus a random 0-40 ms), so the kill lands wherever the controller is.
A new controller then runs to idle. After every trial, for every job in the store: it is
in a final status consistent with its history, its history is legal, its record exists
exactly once, and a Complete job's report has each task exactly once, matching its counters.

COSBATCH_CRASH_TRIALS (default 4) sets the number of trials.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from cosbatch.controller import JobService
from cosbatch.lifecycle import TERMINAL
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_exact_report, assert_legal_history

pytestmark = pytest.mark.reliability

TARGETS = (S.PREPARING, S.ACTIVE, S.PAUSING, S.COMPLETING)
TRIALS = int(os.environ.get("COSBATCH_CRASH_TRIALS", "4"))
BIG, SMALL = 2000, 60


def start_controller(store_url: str, endpoint: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", endpoint,
         "-v", "run", "--no-progress", "--segment-size", "250", "--concurrency", "32", "--timeout", "240"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )


def kill_when(proc: subprocess.Popen, service: JobService, job_id: str, target: S, rng: random.Random,
              timeout_s: float = 60) -> S | None:
    """SIGKILL `proc` as soon as the job is in `target` (or past it); the status seen at the kill."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        status = service.store.get_status(job_id)
        if status is target or (status in TERMINAL and target is not S.PREPARING):
            if target is not S.COMPLETING:  # Completing lasts a few ms: kill at once
                time.sleep(rng.uniform(0, 0.04))
            if proc.poll() is not None:
                return None
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return service.store.get_status(job_id)
        time.sleep(0.002)
    return None


def test_controller_sigkill_at_random_moments(s3, s3_server, make_bucket, store, tmp_path):
    seed = int(os.environ.get("COSBATCH_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    src, rep = make_bucket("src"), make_bucket("rep")
    big = [f"b/{i:04d}" for i in range(BIG)]
    small = [f"s/{i:03d}" for i in range(SMALL)]
    put_objects(s3, src, big + small)
    write_manifest(s3, src, "big.csv", [(src, k) for k in big])
    write_manifest(s3, src, "small.csv", [(src, k) for k in small])
    service = JobService(store)
    created: dict[str, list[str]] = {}  # job id → its manifest's keys
    targets = [TARGETS[i % len(TARGETS)] for i in range(TRIALS)]
    rng.shuffle(targets)
    killed_in: list[str] = []
    log_path = tmp_path / "controllers.log"
    with open(log_path, "ab") as log:
        for trial, target in enumerate(targets):
            dst = make_bucket("dst")
            a = service.create_job(parse_create_job(copy_request(src, "big.csv", dst, rep, priority=1,
                                                                 token=f"a-{trial}")))
            created[a.job_id] = big
            first = start_controller(store.url, s3_server.endpoint_url, log)
            try:
                if target is S.PAUSING:
                    wait_for(lambda a=a: service.describe_job(a.job_id).progress_summary.tasks_run >= 250, 60,
                             interval_s=0.01, what="A running before the preemption")
                    b = service.create_job(parse_create_job(copy_request(src, "small.csv", make_bucket("dst"),
                                                                         rep, priority=9, token=f"b-{trial}")))
                    created[b.job_id] = small
                elif target is S.ACTIVE:
                    wanted = rng.randrange(0, BIG - 500)
                    wait_for(lambda a=a, w=wanted: service.describe_job(a.job_id).progress_summary.tasks_run >= w,
                             60, interval_s=0.005, what="progress before the kill")
                seen = kill_when(first, service, a.job_id, target, rng)
                killed_in.append(f"{target.value}->{seen.value if seen else 'missed'}")
            finally:
                if first.poll() is None:
                    first.kill()
                    first.wait(10)
            second = start_controller(store.url, s3_server.endpoint_url, log)
            assert second.wait(240) == 0, log_path.read_text()[-3000:]
            check_store(s3, rep, service, created)
    print(f"controller-death seed={seed} trials={len(targets)} kills={killed_in}")
    assert sum(1 for k in killed_in if not k.endswith("missed")) >= len(targets) // 2, killed_in


def check_store(s3, rep: str, service: JobService, created: dict[str, list[str]]) -> None:
    page = service.list_jobs(None)
    ids = Counter(j.job_id for j in page.jobs)
    assert set(ids) == set(created) and max(ids.values()) == 1  # no record lost or doubled
    for job in page.jobs:
        history = service.history(job.job_id)
        assert_legal_history(history)
        assert job.status is history[-1].to_status
        # run exits only when idle: every job is final (nothing here waits for confirmation)
        assert job.status in TERMINAL, (job.job_id, job.status)
        assert job.status is S.COMPLETE, (job.status, job.failure_reasons)
        p = job.progress_summary
        _, rows, job_doc = read_report(s3, rep, job)
        assert_exact_report(rows, created[job.job_id], p.number_of_tasks_succeeded, p.number_of_tasks_failed)
        assert p.number_of_tasks_succeeded == len(created[job.job_id])
        assert job_doc["Job"]["Status"] == "Complete"

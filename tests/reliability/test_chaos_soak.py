"""Chaos soak: 20 jobs with random priorities, and a script making random calls while they
run — priority changes (which preempt: Pausing/Paused), cancels, confirmations.

At the end every job is final, every status history is legal per the lifecycle table,
and every Complete job's report is exact (each task once, counters = rows). Bounded:
COSBATCH_SOAK_S seconds in all (default 75: chaos, then the last jobs finishing);
set it higher for a longer soak. COSBATCH_SOAK_SEED replays a run.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.errors import IllegalTransition
from cosbatch.lifecycle import TERMINAL
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_exact_report, assert_legal_history

pytestmark = pytest.mark.reliability

SOAK_S = float(os.environ.get("COSBATCH_SOAK_S", "75"))
SETTLE_S = 15.0  # of SOAK_S, kept for the last jobs to finish (the wait for them is bounded apart)
N_JOBS = 20


def test_chaos_soak(s3, make_bucket, store, settings):
    seed = int(os.environ.get("COSBATCH_SOAK_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    src, rep = make_bucket("src"), make_bucket("rep")
    sizes = [rng.choice((50, 300, 800, 1500)) for _ in range(N_JOBS)]
    keys = [f"k/{i:05d}" for i in range(max(sizes))]
    put_objects(s3, src, keys)
    for n in set(sizes):
        write_manifest(s3, src, f"m{n}.csv", [(src, k) for k in keys[:n]])
    service = JobService(store)
    jobs: dict[str, list[str]] = {}
    started = time.monotonic()
    cfg = replace(settings, segment_size=100, concurrency=32)
    scheduler = Scheduler(store.__class__(store.path), cfg)
    calls: Counter[str] = Counter()
    chaos_until = started + max(10.0, SOAK_S - SETTLE_S)
    with running_scheduler(scheduler):
        pending = list(range(N_JOBS))
        while time.monotonic() < chaos_until:
            if pending and (rng.random() < 0.4 or not jobs):
                i = pending.pop(0)
                body = copy_request(src, f"m{sizes[i]}.csv", make_bucket("dst"), rep, token=f"soak-{i}",
                                    priority=rng.randrange(0, 100), ConfirmationRequired=rng.random() < 0.3)
                job = service.create_job(parse_create_job(body))
                jobs[job.job_id] = keys[:sizes[i]]
                calls["create"] += 1
            elif jobs:
                job_id = rng.choice(list(jobs))
                action = rng.choices(("priority", "confirm", "cancel"), weights=(6, 3, 1))[0]
                if action == "confirm":  # mostly a job that waits for it; sometimes any job
                    waiting = [j.job_id for j in service.list_jobs(None, ["Suspended"]).jobs]
                    if waiting and rng.random() < 0.8:
                        job_id = rng.choice(waiting)
                try:
                    if action == "priority":  # a raised priority preempts the running job
                        service.update_job_priority(job_id, rng.randrange(0, 100))
                    elif action == "confirm":
                        service.update_job_status(job_id, "Ready", "confirmed by the soak")
                    else:
                        service.update_job_status(job_id, "Cancelled", "cancelled by the soak")
                    calls[action] += 1
                except IllegalTransition:
                    calls[f"{action}-refused"] += 1
            time.sleep(rng.uniform(0.05, 0.6))
        for i in pending:  # every job is created, whatever the soak's length
            job = service.create_job(parse_create_job(copy_request(
                src, f"m{sizes[i]}.csv", make_bucket("dst"), rep, token=f"soak-{i}", priority=rng.randrange(100))))
            jobs[job.job_id] = keys[:sizes[i]]
        for job_id in jobs:  # let the rest finish: confirm whoever waits
            if service.describe_job(job_id).status is S.SUSPENDED:
                service.update_job_status(job_id, "Ready", "soak over")
        wait_for(lambda: all(service.describe_job(j).status in TERMINAL for j in jobs),
                 120.0, interval_s=0.25, what="every job to be final")

    statuses: Counter[str] = Counter()
    preempted = 0
    for job_id, job_keys in jobs.items():
        job = service.describe_job(job_id)
        history = service.history(job_id)
        assert_legal_history(history)
        statuses[job.status.value] += 1
        preempted += sum(1 for h in history if h.to_status is S.PAUSED)
        p = job.progress_summary
        if job.status is S.COMPLETE:
            _, rows, job_doc = read_report(s3, rep, job)
            assert_exact_report(rows, job_keys, p.number_of_tasks_succeeded, p.number_of_tasks_failed)
            assert p.number_of_tasks_succeeded == len(job_keys)
            assert job_doc["Job"]["Status"] == "Complete"
        elif job.status is S.CANCELLED and p.total_number_of_tasks:
            _, rows, _ = read_report(s3, rep, job)
            assert len(rows) == len({r["Key"] for r in rows}) == p.tasks_run  # what ran, once
    assert len(jobs) == N_JOBS == len(service.list_jobs(None).jobs)
    print(f"soak seed={seed} {time.monotonic() - started:.0f}s calls={dict(calls)} final={dict(statuses)} "
          f"pauses={preempted}")

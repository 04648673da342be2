"""One 5,000-task copy job on DirectRunner (in memory, 2 processes), DaskRunner (a 2-worker
LocalCluster the launcher starts) and Flink (a real session cluster of 2 TaskManagers, given only
its address): the same report rows and the same counts."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from cosbatch.lifecycle import JobStatus
from launch import RunnerConfig
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest

RUNNERS = {
    "direct-in-memory": RunnerConfig("direct"),
    "direct-multi-processing-2": RunnerConfig(
        "direct", {"direct_running_mode": "multi_processing", "direct_num_workers": "2"}
    ),
    "dask-local-cluster-2": RunnerConfig("dask", {"dask_local_workers": "2"}),
}


def count_objects(s3, bucket: str) -> int:
    return sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def test_same_5000_task_job_gives_the_same_results_on_every_runner(s3, make_bucket, store, settings, big_source,
                                                                    flink_cluster):
    src, keys = big_source
    present = keys[:4900]
    missing = [f"missing/{i:03d}" for i in range(100)]
    tasks = [k for pair in zip(present[:100], missing, strict=True) for k in pair] + present[100:]
    write_manifest(s3, src, "parity-5000.csv", [(src, k) for k in tasks])

    outcomes: dict[str, tuple] = {}
    runners = {**RUNNERS, "flink-session-cluster-2": RunnerConfig("flink", {"flink_master": flink_cluster.address})}
    for name, runner in runners.items():
        dst, rep = make_bucket("dst"), make_bucket("rep")
        started = time.monotonic()
        job = create_and_run(store, replace(settings, runner=runner),
                             copy_request(src, "parity-5000.csv", dst, rep, token=name))
        print(f"{name}: 5,000 tasks in {time.monotonic() - started:.1f} s")  # shown with -s / -rP
        assert job.status is JobStatus.COMPLETE, (name, job.failure_reasons)
        _, rows, _ = read_report(s3, rep, job)
        assert len(rows) == len(tasks), name  # one row per task, no duplicates
        assert count_objects(s3, dst) == len(present), name
        p = job.progress_summary
        counters = (p.total_number_of_tasks, p.number_of_tasks_succeeded, p.number_of_tasks_failed)
        outcomes[name] = (counters, {(r["Bucket"], r["Key"], r["TaskStatus"]) for r in rows})

    expected_counters = (5000, 4900, 100)
    assert set(outcomes) == set(runners)
    for name, (counters, rows) in outcomes.items():
        assert counters == expected_counters, name
        assert rows == outcomes["direct-in-memory"][1], name


@pytest.mark.parametrize("mode", ["in_memory", "multi_processing"])
def test_direct_runner_runs_beams_fn_api_runner_and_never_prism(s3, make_bucket, store, settings, caplog, mode):
    """Beam 2.77's DirectRunner would first fetch Prism from GitHub and run the job there:
    another engine, and on a machine without internet a failed download. Ours must not."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k/{i}" for i in range(20)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    caplog.set_level(logging.INFO, logger="apache_beam")
    runner = RunnerConfig("direct", {"direct_running_mode": mode})
    job = create_and_run(store, replace(settings, runner=runner), copy_request(src, "m.csv", dst, rep, token=mode))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 20
    beam_messages = [r.getMessage() for r in caplog.records if r.name.startswith("apache_beam")]
    assert beam_messages, "Beam's own log records were not captured"
    assert not [m for m in beam_messages if "prism" in m.lower()]

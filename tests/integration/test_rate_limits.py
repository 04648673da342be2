"""Rate limits: a job's own ceiling and its storage's, held while it runs, changed while it runs."""

from __future__ import annotations

import time
from dataclasses import replace

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import write_manifest


def tagging_body(src: str, token: str) -> dict:
    return {
        "AccountId": "123456789012", "ClientRequestToken": token, "Priority": 10,
        "RoleArn": "arn:aws:iam::123456789012:role/batch", "ConfirmationRequired": False,
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": f"arn:aws:s3:::{src}/m.csv"}},
        "Operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
        "Report": {"Enabled": False},
    }


def seeded(s3, make_bucket, n: int) -> str:
    src = make_bucket("rl")
    keys = [f"o{i:04d}" for i in range(n)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    return src


def watch(service: JobService, job_id: str, until: int, timeout_s: float = 120) -> list[tuple[float, int]]:
    """(time, tasks run) samples every 0.1 s until `until` tasks ran."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = service.describe_job(job_id).progress_summary.tasks_run
        samples.append((time.monotonic(), done))
        if done >= until:
            return samples
        time.sleep(0.1)
    raise AssertionError(f"only {samples[-1][1]} tasks ran in {timeout_s} s")


def rate_between(samples: list[tuple[float, int]], low: int, high: int) -> float:
    """Tasks per second from the first sample at ≥ low tasks to the first at ≥ high."""
    t0, n0 = next(s for s in samples if s[1] >= low)
    t1, n1 = next(s for s in samples if s[1] >= high)
    return (n1 - n0) / (t1 - t0)


def test_a_jobs_limit_holds_and_can_be_raised_while_it_runs(s3, make_bucket, store, settings):
    src = seeded(s3, make_bucket, 400)
    cfg = replace(settings, segment_size=100)
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(tagging_body(src, "limited")), max_ops_per_second=25)
    assert service.describe_job(job.job_id).describe()["MaxOpsPerSecond"] == 25.0
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        samples = watch(service, job.job_id, until=120)
        rate = rate_between(samples, 20, 120)
        assert rate <= 25 * 1.1, f"{rate:.1f} tasks/s with a limit of 25"
        raised_at = time.monotonic()
        service.update_rate_limit(job.job_id, 2000)
        rest = watch(service, job.job_id, until=400)
        # 280 tasks left: ~11 s at the old limit; the new one takes effect within seconds.
        assert rest[-1][0] - raised_at < 8, f"{rest[-1][0] - raised_at:.1f} s after raising the limit"
        print(f"limited to 25/s: measured {rate:.1f}/s; after raising: 280 tasks in {rest[-1][0] - raised_at:.1f} s")
        wait_for(lambda: service.describe_job(job.job_id).status is JobStatus.COMPLETE, 60, what="Complete")


def test_a_storages_ceiling_holds_for_its_jobs(s3, s3_server, make_bucket, store, settings):
    src = seeded(s3, make_bucket, 150)
    storage = replace(implicit_storage(s3_server.endpoint_url), max_ops_per_second=30.0)
    cfg = replace(settings, storages=StorageCatalog.single(storage), segment_size=50)
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(tagging_body(src, "storage-limited")))
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        samples = watch(service, job.job_id, until=150)
    rate = rate_between(samples, 20, 140)
    assert rate <= 30 * 1.1, f"{rate:.1f} tasks/s on a storage limited to 30"
    print(f"storage limited to 30/s: measured {rate:.1f}/s")


def test_rate_limits_are_checked():
    import pytest

    from cosbatch.controller.cosbatch_tags import check_rate
    from cosbatch.errors import InvalidRequest

    assert check_rate("12.5") == 12.5 and check_rate(None) is None
    for bad in (0, -3, "fast", True, float("nan")):
        with pytest.raises(InvalidRequest, match="max-ops-per-second must be a positive number"):
            check_rate(bad)


def test_a_limit_holds_across_worker_processes(s3, make_bucket, store, settings):
    """Two DirectRunner worker processes share one job's limit: the controller gives each half."""
    from launch import RunnerConfig

    src = seeded(s3, make_bucket, 240)
    runner = RunnerConfig("direct", {"direct_running_mode": "multi_processing", "direct_num_workers": "2"})
    cfg = replace(settings, segment_size=60, runner=runner)
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(tagging_body(src, "two-workers")), max_ops_per_second=40)
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        samples = watch(service, job.job_id, until=240)
        wait_for(lambda: service.describe_job(job.job_id).status is JobStatus.COMPLETE, 60, what="Complete")
    rate = rate_between(samples, 40, 220)
    assert rate <= 40 * 1.1, f"{rate:.1f} tasks/s over two workers with a limit of 40"
    print(f"limited to 40/s over two worker processes: measured {rate:.1f}/s")

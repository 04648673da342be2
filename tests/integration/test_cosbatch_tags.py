"""`cosbatch:` job tags acting on real jobs: the rate limit (set at creation, changed and removed
with the tags while the job runs) and the job's own failure threshold."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.settings import FailureThreshold
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import copy_request, write_manifest
from tests.integration.lifecycle_checks import job_state
from tests.integration.test_rate_limits import rate_between, seeded, tagging_body, watch

RATE = "cosbatch:max-ops-per-second"


def test_rate_limit_tag_at_creation_then_changed_by_put_job_tagging(s3, make_bucket, store, settings):
    src = seeded(s3, make_bucket, 400)
    cfg = replace(settings, segment_size=100)
    service = JobService(store, cfg.storages)
    body = {**tagging_body(src, "tag-limited"), "Tags": [{"Key": RATE, "Value": "25"}, {"Key": "team", "Value": "a"}]}
    job = service.create_job(parse_create_job(body))
    assert job.max_ops_per_second == 25.0
    assert service.describe_job(job.job_id).describe()["MaxOpsPerSecond"] == 25.0
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        samples = watch(service, job.job_id, until=120)
        rate = rate_between(samples, 20, 120)
        assert rate <= 25 * 1.1, f"{rate:.1f} tasks/s with a tagged limit of 25"
        raised_at = time.monotonic()
        changed = service.put_job_tagging(job.job_id, [{"Key": RATE, "Value": "2000"}, {"Key": "team", "Value": "a"}])
        assert changed.max_ops_per_second == 2000.0
        rest = watch(service, job.job_id, until=400)
        # 280 tasks left: ~11 s at the old limit; the new one takes effect within seconds.
        assert rest[-1][0] - raised_at < 8, f"{rest[-1][0] - raised_at:.1f} s after raising the limit"
        wait_for(lambda: service.describe_job(job.job_id).status is JobStatus.COMPLETE, 60, what="Complete")
    print(f"tagged 25/s: measured {rate:.1f}/s; after put-job-tagging 2000/s: 280 tasks in "
          f"{rest[-1][0] - raised_at:.1f} s")


def test_rate_limit_follows_the_tags(s3, make_bucket, store, settings):
    src = seeded(s3, make_bucket, 1)
    service = JobService(store, settings.storages)
    body = {**tagging_body(src, "follow"), "ConfirmationRequired": True}
    job = service.create_job(parse_create_job(body), max_ops_per_second=40)
    # tags without the option leave a rate set otherwise (the CLI flag) alone
    assert service.put_job_tagging(job.job_id, [{"Key": "team", "Value": "a"}]).max_ops_per_second == 40.0
    assert service.put_job_tagging(job.job_id, [{"Key": RATE, "Value": "7"}]).max_ops_per_second == 7.0
    assert service.put_job_tagging(job.job_id, [{"Key": "team", "Value": "b"}]).max_ops_per_second is None
    service.put_job_tagging(job.job_id, [{"Key": RATE, "Value": "9"}])
    cleared = service.delete_job_tagging(job.job_id)
    assert cleared.max_ops_per_second is None and "MaxOpsPerSecond" not in cleared.describe()
    with pytest.raises(InvalidRequest, match=f"job tag {RATE}: must be a positive number"):
        service.put_job_tagging(job.job_id, [{"Key": RATE, "Value": "-1"}])
    assert service.describe_job(job.job_id).tags == []  # a refused tag set changes nothing
    with pytest.raises(InvalidRequest, match="the rate limit is given twice"):
        service.create_job(parse_create_job({**body, "ClientRequestToken": "twice",
                                             "Tags": [{"Key": RATE, "Value": "5"}]}), max_ops_per_second=6)


def test_failure_threshold_tag_fails_a_job_the_default_lets_complete(s3, make_bucket, store, settings):
    """1,000 of 3,000 tasks fail (33%): under the default 50%, over the job's own 20%."""
    src, dst = make_bucket("src"), make_bucket("dst")
    present = [f"ok/{i}" for i in range(1000)]
    put_objects(s3, src, present)
    rows = []
    for i in range(1000):
        rows += [(src, present[i]), (src, f"missing/{i}"), (src, present[i])]
    write_manifest(s3, src, "m.csv", rows)
    cfg = replace(settings, threshold=FailureThreshold(min_tasks=1000, ratio=0.5))
    service = JobService(store, cfg.storages)
    strict = service.create_job(parse_create_job(copy_request(
        src, "m.csv", dst, None, token="strict", Tags=[{"Key": "cosbatch:failure-threshold", "Value": "20"}])))
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        wait_for(lambda: service.describe_job(strict.job_id).status is JobStatus.FAILED, 180, what="Failed",
                 state=lambda: job_state(service, strict.job_id))
        lenient = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="lenient")))
        wait_for(lambda: service.describe_job(lenient.job_id).status is JobStatus.COMPLETE, 180, what="Complete",
                 state=lambda: job_state(service, lenient.job_id))
    job = service.describe_job(strict.job_id)
    assert [f.failure_code for f in job.failure_reasons] == ["FailureThresholdExceeded"]
    assert "over the 20% failure threshold" in job.failure_reasons[0].failure_reason
    p = job.progress_summary
    assert p.tasks_run >= 1000 and p.number_of_tasks_failed / p.tasks_run > 0.2
    lenient = service.describe_job(lenient.job_id).progress_summary
    assert lenient.number_of_tasks_failed == 1000 and lenient.number_of_tasks_succeeded == 2000


def test_verify_tag_only_on_copy_jobs(store, settings):
    """cosbatch:verify=true on a job that copies nothing is refused, at CreateJob and by
    PutJobTagging alike; on a copy job it is kept (false is a valid value anywhere)."""
    service = JobService(store, settings.storages)
    verify = [{"Key": "cosbatch:verify", "Value": "true"}]
    tagging = tagging_body("src", token="verify-tagging")
    with pytest.raises(InvalidRequest, match="applies to S3PutObjectCopy jobs only, not S3PutObjectTagging"):
        service.create_job(parse_create_job({**tagging, "Tags": verify}))
    job = service.create_job(parse_create_job({**tagging, "Tags": [{"Key": "cosbatch:verify", "Value": "false"}]}))
    with pytest.raises(InvalidRequest, match="applies to S3PutObjectCopy jobs only"):
        service.put_job_tagging(job.job_id, verify)
    copy = service.create_job(parse_create_job(copy_request("src", "m.csv", "dst", None, token="verify-copy",
                                                            Tags=verify)))
    assert [t.wire() for t in service.get_job_tagging(copy.job_id)] == verify

"""Preparing tells the truth: each way a manifest or a storage can fail gets its own code,
and an unreachable storage is waited for, the job staying in Preparing."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus as S
from cosbatch.storage import CredentialsRef, StorageCatalog, implicit_storage
from cosbatch.storage.embedded import start_embedded_s3
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import copy_request, create_and_run, write_manifest
from tests.reliability.test_storage_outage import own_s3  # noqa: F401  (a SeaweedFS of the test's own)

OUTAGE_S = 20.0


def _failure(job, report_written: bool = True) -> tuple[str, str]:
    """The job's one failure; a job whose report could not be written either says so next."""
    assert job.status is S.FAILED, job
    f, *rest = job.failure_reasons
    assert [r.failure_code for r in rest] == ([] if report_written else ["ReportWriteError"]), job.failure_reasons
    return f.failure_code, f.failure_reason


def test_missing_manifest_is_manifest_not_found(store, settings, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "nope.csv", dst, rep)))
    assert code == "ManifestNotFound" and "nope.csv" in reason


def test_a_manifest_in_a_missing_bucket_names_the_bucket(store, settings, make_bucket):
    dst, rep = make_bucket("dst"), make_bucket("rep")
    code, reason = _failure(create_and_run(store, settings, copy_request("no-such-manifests", "m.csv", dst, rep)))
    assert code == "ManifestNotFound" and "(its bucket 'no-such-manifests' does not exist)" in reason
    src = make_bucket("src")  # a missing object in a bucket that exists says nothing of its bucket
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "nope.csv", dst, rep)))
    assert code == "ManifestNotFound" and "its bucket" not in reason


def test_missing_report_bucket_is_report_bucket_not_found(store, settings, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    write_manifest(s3, src, "m.csv", [(src, "a")])
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "m.csv", dst, "no-such-reports")))
    assert code == "ReportBucketNotFound" and "'no-such-reports' does not exist" in reason
    # No report is written into it: SeaweedFS would make the bucket on PUT (S3 would refuse the write).
    assert "no-such-reports" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_malformed_line_is_invalid_manifest_with_its_line_number(store, settings, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    s3.put_object(Bucket=src, Key="m.csv", Body=f"{src},a\n{src},b,v1,extra\n".encode())
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "m.csv", dst, rep)))
    assert code == "InvalidManifest" and "line 2" in reason


def test_wrong_keys_are_access_denied_naming_the_storage_and_key_id(store, settings, s3, make_bucket, monkeypatch):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_manifest(s3, src, "m.csv", [(src, "a")])
    monkeypatch.setenv("WRONG_KEY_ID", "AKIDWRONG1234")
    monkeypatch.setenv("WRONG_SECRET", "very-secret-value")
    storage = replace(settings.storages.get(settings.storages.default_name),
                      credentials=CredentialsRef("WRONG_KEY_ID", "WRONG_SECRET"), max_attempts=1)
    cfg = replace(settings, storages=StorageCatalog.single(storage))
    code, reason = _failure(create_and_run(store, cfg, copy_request(src, "m.csv", dst, rep)), report_written=False)
    assert code == "AccessDenied"
    assert "'AKIDWRONG1234'" in reason and storage.describe() in reason
    assert "very-secret-value" not in reason


def test_job_created_during_a_storage_outage_completes_once_it_returns(own_s3, store, settings):  # noqa: F811
    s3 = own_s3.client()
    put_objects(s3, "src", ["a", "b", "c"])
    write_manifest(s3, "src", "m.csv", [("src", k) for k in ("a", "b", "c")])
    cfg = replace(settings, storages=StorageCatalog.at(own_s3.endpoint_url, connect_timeout_s=1.0, max_attempts=1),
                  pipeline_retry_s=0.5, prepare_retry_max_s=2.0)
    own_s3.stop(keep_data=True)  # connections refused from now on
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(copy_request("src", "m.csv", "dst", "rep", token="outage")))
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        wait_for(lambda: (service.describe_job(job.job_id).status_update_reason or "").startswith(
            "waiting for storage: "), 60, what="the job to wait for its storage")
        down_at = time.monotonic()
        time.sleep(OUTAGE_S)
        during = service.describe_job(job.job_id)
        own_s3.start()
        wait_for(lambda: service.describe_job(job.job_id).status in (S.COMPLETE, S.FAILED), 180,
                 what="the job to end after the outage")
    assert time.monotonic() - down_at >= OUTAGE_S
    assert during.status is S.PREPARING, during.failure_reasons
    assert "is unreachable" in during.status_update_reason and implicit_storage(own_s3.endpoint_url).describe() \
        in during.status_update_reason
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, done.failure_reasons
    assert done.progress_summary.number_of_tasks_succeeded == 3
    assert [h.to_status for h in service.history(job.job_id)][:3] == [S.NEW, S.PREPARING, S.PREPARING]


def test_storage_unreachable_beyond_patience_fails_the_job(store, settings, tmp_path):
    server = start_embedded_s3(tmp_path / "gone")
    endpoint = server.endpoint_url
    server.stop()
    cfg = replace(settings, storages=StorageCatalog.at(endpoint, connect_timeout_s=1.0, max_attempts=1),
                  storage_patience_s=3.0, pipeline_retry_s=0.5, prepare_retry_max_s=1.0)
    code, reason = _failure(create_and_run(store, cfg, copy_request("src", "m.csv", "dst", "rep"), timeout_s=60),
                            report_written=False)
    assert code == "StorageUnreachable" and "is unreachable" in reason


@pytest.mark.parametrize("header", ["Bucket,Key", "bucket,key", "Bucket,photos/a.jpg"])
def test_header_row_fails_with_manifest_header_row(store, settings, s3, make_bucket, header):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["photos/a.jpg"])
    s3.put_object(Bucket=src, Key="m.csv", Body=f"{header}\n{src},photos/a.jpg\n".encode())
    job = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep))
    code, reason = _failure(job)
    assert code == "ManifestHeaderRow" and "line 1 is a header row" in reason
    assert s3.list_objects_v2(Bucket=dst).get("KeyCount", 0) == 0  # no task ran on a bucket "Bucket"


def test_all_sampled_objects_missing_names_the_missing_bucket(store, settings, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_manifest(s3, src, "m.csv", [("no-such-source", "a"), ("no-such-source", "b")])
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "m.csv", dst, rep)))
    assert code == "ManifestObjectsNotFound"
    assert "none of the first 2 objects" in reason and "bucket 'no-such-source' does not exist" in reason


def test_all_sampled_objects_missing_says_keys_are_not_url_encoded(store, settings, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["c++/main.cpp", "a+b.txt"])
    # written as is: '+' decodes to a space, so the manifest names "c  /main.cpp" and "a b.txt"
    s3.put_object(Bucket=src, Key="m.csv", Body=f"{src},c++/main.cpp\n{src},a+b.txt\n".encode())
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "m.csv", dst, rep)))
    assert code == "ManifestObjectsNotFound"
    assert "not URL-encoded" in reason and "'c++/main.cpp' exists as written" in reason


def test_all_sampled_objects_missing_on_an_existing_bucket_asks_about_the_storage(store, settings, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_manifest(s3, src, "m.csv", [(src, "x"), (src, "y")])
    code, reason = _failure(create_and_run(store, settings, copy_request(src, "m.csv", dst, rep)))
    assert code == "ManifestObjectsNotFound" and f"s3://{src}/x (line 1): deleted since the manifest was made, or on another storage than the job's?" in reason


def test_some_sampled_objects_missing_still_runs(store, settings, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["there"])
    write_manifest(s3, src, "m.csv", [(src, "gone"), (src, "there")])
    job = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep))
    assert job.status is S.COMPLETE
    assert (job.progress_summary.number_of_tasks_succeeded, job.progress_summary.number_of_tasks_failed) == (1, 1)

"""The walking skeleton end to end on SeaweedFS: create a copy job, run it on Beam, read its report."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest


def test_copy_2000_objects(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"data/{i // 100:02d}/object {i:05d}+x.bin" for i in range(2000)]
    put_objects(s3, src, keys, body=lambda k: hashlib.sha256(k.encode()).digest() * 32)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])

    job = create_and_run(store, settings, copy_request(src, "manifest.csv", dst, rep))

    assert job.status is JobStatus.COMPLETE
    p = job.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == 2000
    assert p.number_of_tasks_failed == 0
    copied = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dst):
        copied.update({o["Key"]: o for o in page.get("Contents", [])})
    assert set(copied) == set(keys)
    with ThreadPoolExecutor(16) as pool:  # every destination object has identical bytes
        bodies = dict(zip(keys, pool.map(lambda k: s3.get_object(Bucket=dst, Key=k)["Body"].read(), keys), strict=True))
    assert all(bodies[k] == hashlib.sha256(k.encode()).digest() * 32 for k in keys)

    manifest, rows, job_doc = read_report(s3, rep, job)
    assert manifest["Format"] == "Report_CSV_20180820"
    assert manifest["ReportSchema"] == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    assert len(rows) == 2000
    assert sorted(r["Key"] for r in rows) == sorted(keys)
    assert {r["TaskStatus"] for r in rows} == {"succeeded"}
    assert {r["HTTPStatusCode"] for r in rows} == {"200"}
    for result in manifest["Results"]:  # MD5Checksum is the file's MD5
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read()
        assert hashlib.md5(body).hexdigest() == result["MD5Checksum"]
    assert job_doc["Job"]["Status"] == "Complete"
    assert job_doc["Job"]["Operation"] == {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
    assert job_doc["Job"]["ProgressSummary"]["NumberOfTasksSucceeded"] == 2000


def test_missing_objects_fail_their_rows_only(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"p/{i}" for i in range(40)]
    missing = [f"gone/{i}" for i in range(10)]
    put_objects(s3, src, present)
    write_manifest(s3, src, "m.csv", [(src, k) for k in present + missing])

    job = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep))

    assert job.status is JobStatus.COMPLETE  # 20% failed, and far below the 1,000-task watch size
    assert job.progress_summary.number_of_tasks_succeeded == 40
    assert job.progress_summary.number_of_tasks_failed == 10
    _, rows, _ = read_report(s3, rep, job)
    failed = {r["Key"]: r for r in rows if r["TaskStatus"] == "failed"}
    assert set(failed) == set(missing)
    for r in failed.values():
        assert r["HTTPStatusCode"] == "404" and r["ErrorCode"] == "NoSuchKey"
        assert r["ResultMessage"].startswith("PermanentFailure")
    assert len(rows) == 50


def test_failed_tasks_only_scope(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b"), (src, "nope")])
    body = copy_request(src, "m.csv", dst, rep)
    body["Report"]["ReportScope"] = "FailedTasksOnly"
    job = create_and_run(store, settings, body)
    _, rows, _ = read_report(s3, rep, job)
    assert [r["Key"] for r in rows] == ["nope"]


@pytest.mark.parametrize(
    ("manifest", "code", "fragment"),
    [
        (b"SRC,a\nSRC,b,v1,extra\n", "InvalidManifest", "line 2"),
        (b"SRC,a\nSRC,bad%zz\n", "InvalidManifest", "bad URL-encoding"),
        (None, "ManifestNotFound", "does not exist"),
    ],
)
def test_unparseable_manifest_fails_the_job(s3, make_bucket, store, settings, manifest, code, fragment):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    if manifest is not None:
        s3.put_object(Bucket=src, Key="m.csv", Body=manifest.replace(b"SRC", src.encode()))
    job = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep))
    assert job.status is JobStatus.FAILED
    assert [f.failure_code for f in job.failure_reasons] == [code]
    assert fragment in job.failure_reasons[0].failure_reason
    assert job.termination_date is not None
    _, rows, job_doc = read_report(s3, rep, job)  # the report states why, too
    assert rows == []
    assert job_doc["Job"]["FailureReasons"][0]["FailureCode"] == code


def test_manifest_etag_mismatch_and_missing_target(s3, make_bucket, store, settings):
    src, dst = make_bucket("src"), make_bucket("dst")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a")])
    body = copy_request(src, "m.csv", dst, None, token="etag")
    body["Manifest"]["Location"]["ETag"] = "0" * 32
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.FAILED and job.failure_reasons[0].failure_code == "ManifestETagMismatch"
    job = create_and_run(store, settings, copy_request(src, "m.csv", "no-such-bucket-xyz", None, token="nob"))
    assert job.status is JobStatus.FAILED and job.failure_reasons[0].failure_code == "TargetBucketNotFound"


def test_local_manifest_file(s3, make_bucket, store, settings, tmp_path):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = ["a b.txt", "c+d.txt", "e%f.txt", "dir/ü.txt"]
    put_objects(s3, src, keys)
    from urllib.parse import quote_plus

    manifest = tmp_path / "m.csv"
    manifest.write_text("".join(f"{src},{quote_plus(k, safe='/')}\n" for k in keys))
    body = copy_request(src, "unused", dst, None, token="local")
    body["Manifest"]["Location"] = {"ObjectArn": f"file://{manifest}"}
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 4
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == sorted(keys)


def test_throttling_is_retried_until_every_task_succeeds(s3, s3_server, make_bucket, store, settings):
    from dataclasses import replace

    from tests.support.fault_proxy import FaultProxy

    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"t/{i}" for i in range(300)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    with FaultProxy(s3_server.endpoint_url, slow_down_ratio=0.3) as proxy:
        flaky = replace(settings, storages=StorageCatalog.at(proxy.url))
        job = create_and_run(store, flaky, copy_request(src, "m.csv", dst, rep, token="flaky"))
    assert proxy.injected > 50  # about 30% of the requests were refused
    assert job.status is JobStatus.COMPLETE
    assert job.progress_summary.number_of_tasks_succeeded == 300
    retries = store.retries(job.job_id)
    assert retries >= 50  # the copies' share of the injected 503s, each retried and counted
    _, rows, _ = read_report(s3, rep, job)
    assert len(rows) == 300 and {r["TaskStatus"] for r in rows} == {"succeeded"}
    assert len(s3.list_objects_v2(Bucket=dst)["Contents"]) == 300

"""S3PutObjectRetention and S3PutObjectLegalHold on a SeaweedFS bucket created with Object Lock:
the storage's own answers (get_object_retention / get_object_legal_hold) on every object."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import create_and_run, op_request, read_report, write_manifest


def locked_bucket(s3, keys: list[str], manifest: str = "m.csv") -> str:
    """A new bucket with Object Lock enabled, holding `keys` and a manifest of them."""
    src = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=src, ObjectLockEnabledForBucket=True)
    put_objects(s3, src, keys)
    write_manifest(s3, src, manifest, [(src, k) for k in keys])
    return src


@pytest.fixture()
def locked(s3, make_bucket):
    keys = [f"objs/{i:03d} ü+%.txt" for i in range(25)]
    return locked_bucket(s3, keys), make_bucket("rep"), keys


def retention_of(s3, bucket: str, key: str) -> tuple[str, datetime]:
    r = s3.get_object_retention(Bucket=bucket, Key=key)["Retention"]
    return r["Mode"], r["RetainUntilDate"].astimezone(UTC).replace(microsecond=0)


def test_retention_on_every_object_then_shortened_only_with_bypass(s3, store, settings, locked):
    src, rep, keys = locked
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    op = {"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": until.isoformat()}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="retain"))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 25
    assert all(retention_of(s3, src, k) == ("GOVERNANCE", until) for k in keys)

    shorter = until - timedelta(days=1)
    op = {"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": shorter.isoformat()}}}
    refused = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="shorten"))
    assert refused.progress_summary.number_of_tasks_failed == 25  # GOVERNANCE holds without the bypass
    _, rows, _ = read_report(s3, rep, refused)
    assert {r["ErrorCode"] for r in rows} == {"AccessDenied"}
    assert all(retention_of(s3, src, k) == ("GOVERNANCE", until) for k in keys)

    op["S3PutObjectRetention"]["BypassGovernanceRetention"] = True
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="bypass"))
    assert job.progress_summary.number_of_tasks_succeeded == 25
    assert all(retention_of(s3, src, k) == ("GOVERNANCE", shorter) for k in keys)


def test_legal_hold_on_then_off_on_every_object(s3, store, settings, locked):
    src, rep, keys = locked
    for status in ("ON", "OFF"):
        op = {"S3PutObjectLegalHold": {"LegalHold": {"Status": status}}}
        job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token=f"hold-{status}"))
        assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 25
        assert all(s3.get_object_legal_hold(Bucket=src, Key=k)["LegalHold"]["Status"] == status for k in keys)


def test_a_bucket_without_object_lock_fails_each_task(s3, store, settings, make_bucket):
    src, rep = make_bucket("plain"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b")])
    job = create_and_run(store, settings, op_request(src, "m.csv", {"S3PutObjectLegalHold": {"LegalHold": {
        "Status": "ON"}}}, rep, token="plain"))
    assert job.progress_summary.number_of_tasks_failed == 2
    _, rows, _ = read_report(s3, rep, job)
    assert all(r["TaskStatus"] == "failed" and r["ErrorCode"] for r in rows)


@pytest.mark.parametrize(("op", "words"), [
    ({"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE"}}}, "both Mode and RetainUntilDate"),
    ({"S3PutObjectRetention": {"Retention": {"Mode": "LOCKED", "RetainUntilDate": "2030-01-01T00:00:00Z"}}},
     "Mode"),
    ({"S3PutObjectRetention": {"Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": "2030-01-01T00:00:00"}}},
     "time zone"),
    ({"S3PutObjectRetention": {"Retention": {"EventHold": "ON"}}}, "EventHold"),
    ({"S3PutObjectRetention": {}}, "Retention"),
    ({"S3PutObjectLegalHold": {"LegalHold": {"Status": "MAYBE"}}}, "Status"),
    ({"S3PutObjectLegalHold": {}}, "LegalHold"),
])
def test_bad_parameters_are_refused_naming_the_field(op, words):
    with pytest.raises(InvalidRequest, match=words):
        parse_create_job(op_request("bucket-1", "m.csv", op, None))


def test_cos_dialect_names():
    request = parse_create_job({**op_request("bucket-1", "m.csv", {"COSPutObjectLegalHold": {"LegalHold": {"Status": "ON"}}},
                                             None)})
    assert request.operation.name == "S3PutObjectLegalHold"

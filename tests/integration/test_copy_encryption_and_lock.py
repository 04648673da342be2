"""Copy options for how the new object is stored: SSE-S3, SSE-KMS (+ BucketKeyEnabled),
ChecksumAlgorithm and Object Lock, on the single copy and the multipart copy alike; checked on
SeaweedFS where it keeps them, else on what was sent (a recording proxy)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from cosbatch.errors import UnsupportedField
from cosbatch.lifecycle import JobStatus
from cosbatch.models import PutObjectCopy
from cosbatch.operations.copy_args import copy_object_args
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.support.fault_proxy import FaultProxy
from tests.unit.test_models import s3_body

MiB = 1024**2
KEYS = ["x/1.txt", "x/2 ü.txt"]


def _job(s3, make_bucket, store, settings, copy: dict, dst: str | None = None, proxy_url: str | None = None,
         big: bool = False):
    """A copy job over KEYS (and a 6 MiB object copied in parts when `big`) with these copy fields."""
    src, rep = make_bucket("src"), make_bucket("rep")
    dst = dst or make_bucket("dst")
    put_objects(s3, src, KEYS)
    keys = list(KEYS)
    if big:
        s3.put_object(Bucket=src, Key="big", Body=b"b" * (6 * MiB))
        keys.append("big")
    for k in keys:
        s3.copy_object(Bucket=src, Key=k, CopySource={"Bucket": src, "Key": k}, Metadata={"origin": "test"},
                       MetadataDirective="REPLACE")
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    body = copy_request(src, "m.csv", dst, rep, token=uuid.uuid4().hex,
                        Operation={"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", **copy}})
    storage = replace(implicit_storage(proxy_url) if proxy_url else settings.storages.default,
                      multipart_copy_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    job = create_and_run(store, replace(settings, storages=StorageCatalog.single(storage)), body)
    return job, dst, rep


def _sent(proxy: FaultProxy) -> tuple[list[dict], list[dict]]:
    """(CopyObject headers, CreateMultipartUpload headers) the proxy saw."""
    copies = [h for m, p, h in proxy.requests if m == "PUT" and "x-amz-copy-source" in h and "partNumber" not in p]
    creates = [h for m, p, h in proxy.requests if m == "POST" and "uploads" in parse_qs(urlsplit(p).query,
                                                                                        keep_blank_values=True)]
    return copies, creates


def test_sse_s3_on_copy_keeps_the_metadata(s3, make_bucket, store, settings):
    job, dst, rep = _job(s3, make_bucket, store, settings, {"NewObjectMetadata": {"SSEAlgorithm": "AES256"}},
                         big=True)
    assert job.progress_summary.number_of_tasks_succeeded == 3, read_report(s3, rep, job)[1]
    for k in [*KEYS, "big"]:
        head = s3.head_object(Bucket=dst, Key=k)
        assert head["ServerSideEncryption"] == "AES256", k
        assert head["Metadata"] == {"origin": "test"}  # SSE alone is no metadata replacement
    assert s3.head_object(Bucket=dst, Key="big")["ETag"].strip('"').endswith("-2")  # the multipart path


def test_sse_kms_and_checksum_are_sent_on_both_paths(s3, s3_server, make_bucket, store, settings):
    """SeaweedFS has no KMS (it answers 500 InternalError, which is retried as an outage for a
    minute), so the proxy answers each KMS request as AWS does for an unknown key: what counts is
    that every copy asked for the encryption and its refusal is the task's result."""

    def no_such_key(method: str, path: str, headers: dict) -> tuple[int, bytes] | None:
        if headers.get("x-amz-server-side-encryption") == "aws:kms":
            return 400, b"<Error><Code>KMS.NotFoundException</Code><Message>Invalid keyId key-1</Message></Error>"
        return None

    copy = {"NewObjectMetadata": {"SSEAlgorithm": "KMS"}, "SSEAwsKmsKeyId": "key-1", "BucketKeyEnabled": True,
            "ChecksumAlgorithm": "SHA256"}
    with FaultProxy(s3_server.endpoint_url, respond=no_such_key) as proxy:
        job, _, rep = _job(s3, make_bucket, store, settings, copy, proxy_url=proxy.url, big=True)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_failed == 3
    copies, creates = _sent(proxy)
    assert len(creates) == 1 and len(copies) == 2
    for h in copies + creates:
        assert h["x-amz-server-side-encryption"] == "aws:kms"
        assert h["x-amz-server-side-encryption-aws-kms-key-id"] == "key-1"
        assert h["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
        assert h["x-amz-checksum-algorithm"] == "SHA256"
    _, rows, _ = read_report(s3, rep, job)
    assert {r["ErrorCode"] for r in rows} == {"KMS.NotFoundException"}, rows


def test_object_lock_on_copy(s3, s3_server, make_bucket, store, settings):
    """SeaweedFS ignores Object Lock headers on CopyObject (measured: GetObjectRetention then says
    ObjectLockConfigurationNotFoundError), so that check is on what was sent; it keeps them on
    CreateMultipartUpload, so the multipart copy is checked on the storage too, with its checksum
    (the parts' CRC32C listed in CompleteMultipartUpload, as S3 requires)."""
    locked = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    copy = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until.isoformat(),
            "ObjectLockLegalHoldStatus": "ON", "ChecksumAlgorithm": "CRC32C"}
    with FaultProxy(s3_server.endpoint_url) as proxy:
        job, _, rep = _job(s3, make_bucket, store, settings, copy, dst=locked, proxy_url=proxy.url, big=True)
    assert job.progress_summary.number_of_tasks_succeeded == 3, read_report(s3, rep, job)[1]
    copies, creates = _sent(proxy)
    assert len(copies) == 2 and len(creates) == 1
    for h in copies + creates:
        assert h["x-amz-object-lock-mode"] == "GOVERNANCE"
        assert datetime.fromisoformat(h["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00")) == until
        assert h["x-amz-object-lock-legal-hold"] == "ON"
        assert h["x-amz-checksum-algorithm"] == "CRC32C"
    big = s3.head_object(Bucket=locked, Key="big", ChecksumMode="ENABLED")
    assert big["ObjectLockMode"] == "GOVERNANCE" and big["ObjectLockRetainUntilDate"] == until
    assert big["ObjectLockLegalHoldStatus"] == "ON"
    assert big["ChecksumCRC32C"].endswith("-2") and big["ChecksumType"] == "COMPOSITE"


def test_copy_object_args_is_the_one_mapping():
    params = PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst", "StorageClass": "STANDARD",
                                           "NewObjectMetadata": {"SSEAlgorithm": "AES256"}})
    assert copy_object_args(params) == {"ServerSideEncryption": "AES256", "StorageClass": "STANDARD"}
    with_headers = PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst",
                                                 "NewObjectMetadata": {"SSEAlgorithm": "AES256", "ContentType": "a/b"}})
    assert copy_object_args(with_headers)["MetadataDirective"] == "REPLACE"


@pytest.mark.parametrize(("fields", "words"), [
    ({"SSEAwsKmsKeyId": "k"}, "need NewObjectMetadata.SSEAlgorithm KMS"),
    ({"ObjectLockMode": "GOVERNANCE"}, "ObjectLockMode and ObjectLockRetainUntilDate go together"),
    ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00"}, "needs a time zone"),
    ({"ChecksumAlgorithm": "MD5"}, "ChecksumAlgorithm"),
])
def test_inconsistent_copy_options_are_refused(fields, words):
    body = s3_body(Operation={"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst", **fields}})
    with pytest.raises(Exception, match=words):
        parse_create_job(body)


def test_options_a_streamed_copy_cannot_keep_are_refused_across_storages(store, settings):
    """A copy to another storage streams GET → PUT: S3 needs the content's checksum or MD5 up front
    with ChecksumAlgorithm and Object Lock, so those are refused at CreateJob, naming the field."""
    from cosbatch.controller import JobService

    here = settings.storages.default
    other = replace(implicit_storage("http://127.0.0.1:1"), name="other", region="other-1")
    service = JobService(store, StorageCatalog((here, other), here.name))
    for fields, name in (({"ChecksumAlgorithm": "CRC32"}, "ChecksumAlgorithm"),
                         ({"ObjectLockLegalHoldStatus": "ON"}, "ObjectLockLegalHoldStatus"),
                         ({"AccessControlDirective": "Copy"}, "AccessControlDirective Copy / Add")):
        body = s3_body(Operation={"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:other-1::dst", **fields}})
        with pytest.raises(UnsupportedField, match=f"{name} is not supported on a copy to another storage"):
            service.create_job(parse_create_job(body))

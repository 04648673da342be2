"""Verified copies (`cosbatch:verify=true`, CLI `--verify`): each copy is compared with its source,
and a destination that differs fails its task with ChecksumMismatch. A tampering proxy between
cosbatch and SeaweedFS makes chosen destinations lie (their ETag, their size, their bytes);
exactly those keys fail."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from urllib.parse import unquote, urlsplit

import pytest
from boto3.s3.transfer import TransferConfig

from cosbatch.lifecycle import JobStatus
from cosbatch.operations.verify import ObjectState
from cosbatch.storage import StorageCatalog, implicit_storage
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.support.fault_proxy import FaultProxy

MiB = 1024**2
SMALL = [f"s/{i}" for i in range(6)]
LARGE = [f"m/{i}" for i in range(3)]
PLAIN = [f"p/{i}" for i in range(2)]
#: key → how the proxy makes its destination lie.
TAMPERED = {"s/1": "etag", "s/4": "size", "m/1": "etag+bytes", "p/1": "bytes"}


def _tamper(dst: str):
    def alter(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        parts = urlsplit(path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        how = TAMPERED.get(key) if bucket == dst and not parts.query.startswith(("uploadId", "partNumber")) else None
        lower = {k.lower(): k for k in headers}
        if how is None:
            return headers, body
        if "etag" in how and method == "HEAD" and "etag" in lower:
            etag = headers[lower["etag"]].strip('"')
            headers[lower["etag"]] = f'"0123456789abcdef0123456789abcdef{etag[32:]}"'  # "-N" kept
        if how == "size" and method == "HEAD":
            headers["Content-Length"] = str(int(headers["Content-Length"]) + 1)
        if "bytes" in how and method == "GET" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        return headers, body
    return alter


@pytest.fixture
def objects(s3, make_bucket):
    """Small single-part objects; larger ones uploaded in 8 MiB parts (copied in parts of the same
    size, so the copy keeps the ETag); and larger ones uploaded in one PUT (copied in 5 MiB parts:
    their ETags cannot be compared, the content hash decides)."""
    src = make_bucket("src")
    for key in SMALL:
        s3.put_object(Bucket=src, Key=key, Body=os.urandom(1000 + len(key)))
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    for key in LARGE:
        s3.upload_fileobj(io.BytesIO(os.urandom(11 * MiB)), src, key, Config=config)
    assert s3.head_object(Bucket=src, Key=LARGE[0])["ETag"].strip('"').endswith("-2")
    for key in PLAIN:
        s3.put_object(Bucket=src, Key=key, Body=os.urandom(11 * MiB))
    write_manifest(s3, src, "m.csv", [(src, k) for k in SMALL + LARGE + PLAIN])
    return src


def _run(s3_server, store, settings, body: dict, dst: str):
    with FaultProxy(s3_server.endpoint_url, alter=_tamper(dst)) as proxy:
        storage = replace(implicit_storage(proxy.url), multipart_copy_threshold=5 * MiB,
                          multipart_chunksize=5 * MiB)
        return create_and_run(store, replace(settings, storages=StorageCatalog.single(storage)), body)


def test_verify_reports_checksum_mismatch_for_exactly_the_tampered_keys(s3, s3_server, make_bucket, store,
                                                                         settings, objects):
    dst, rep = make_bucket("dst"), make_bucket("rep")
    body = copy_request(objects, "m.csv", dst, rep, token="verified", Tags=[{"Key": "cosbatch:verify",
                                                                            "Value": "true"}])
    job = _run(s3_server, store, settings, body, dst)
    assert job.status is JobStatus.COMPLETE
    _, rows, _ = read_report(s3, rep, job)
    failed = {r["Key"]: r for r in rows if r["TaskStatus"] == "failed"}
    assert set(failed) == set(TAMPERED), [(r["Key"], r["ErrorCode"], r["ResultMessage"]) for r in rows]
    assert {r["ErrorCode"] for r in failed.values()} == {"ChecksumMismatch"}
    assert "ETag" in failed["s/1"]["ResultMessage"] and "bytes" in failed["s/4"]["ResultMessage"]
    assert "SHA-256" in failed["m/1"]["ResultMessage"] and "SHA-256" in failed["p/1"]["ResultMessage"]
    messages = {r["Key"]: r["ResultMessage"] for r in rows if r["TaskStatus"] == "succeeded"}
    assert messages["s/0"] == "Successful; verified by ETag"
    # Copied in the source's own 8 MiB parts (on S3 the copy then has the source's ETag; SeaweedFS
    # gives part copies ETags of its own, so the content decides), the single-PUT ones in 5 MiB parts.
    assert "2 parts (multipart copy)" in messages["m/0"] and "3 parts (multipart copy)" in messages["p/0"]
    assert messages["m/0"].endswith("verified by SHA-256 of the content")
    assert messages["p/0"].endswith("verified by SHA-256 of the content")


def test_without_verify_the_same_lies_go_unnoticed(s3, s3_server, make_bucket, store, settings, objects):
    """The control: the same proxy, no verification, every task succeeds (what --verify is for)."""
    dst, rep = make_bucket("dst"), make_bucket("rep")
    job = _run(s3_server, store, settings, copy_request(objects, "m.csv", dst, rep, token="unverified"), dst)
    assert job.progress_summary.number_of_tasks_succeeded == len(SMALL + LARGE + PLAIN)


def test_checksum_comparison_and_what_is_not_comparable():
    """The storage's whole-object checksum decides when the ETags cannot; a composite checksum
    (value-N) or a KMS ETag is never compared as if it were the whole object's."""
    plain = ObjectState.of({"Content-Length": "5", "ETag": '"5d41402abc4b2a76b9719d911017c592"',
                            "x-amz-checksum-crc32c": "mnG7TA=="})
    assert plain.etag_is_md5 and plain.checksum() == ("crc32c", "mnG7TA==")
    composite = ObjectState.of({"Content-Length": "5", "ETag": '"f834c495e795b703a048426f1a328264-2"',
                                "x-amz-checksum-crc32c": "gR5lGw==-2", "x-amz-checksum-type": "COMPOSITE"})
    assert not composite.etag_is_md5 and composite.checksum() is None
    kms = ObjectState.of({"Content-Length": "5", "ETag": '"5d41402abc4b2a76b9719d911017c592"',
                          "x-amz-server-side-encryption": "aws:kms"})
    assert not kms.etag_is_md5

"""The cross-storage copy's stream (issue 25): every byte still verified without hashing it here.

The copy runs as a job's worker runs it (CrossStorageCopyOperation.apply), reading its source
through a tampering proxy in front of SeaweedFS and writing straight to SeaweedFS (another
bucket stands for the other storage). The proxy flips the first byte of chosen keys' GET bodies:
those copies fail with ChecksumMismatch and leave nothing behind.

(A source whose ETag is one MD5 but above the multipart threshold is cut into parts of the
target's size: each part is hashed here and checked against the target's part ETag, which proves
what the target stored, not what the source holds; its source is checked by `--verify`. See
docs/large-objects.md.)
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import replace
from urllib.parse import unquote, urlsplit

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.transfer import CrossStorageCopyOperation, composite_etag, etags_comparable
from cosbatch.storage import implicit_storage
from cosbatch.storage.lean import LeanS3Client
from tests.support.fault_proxy import FaultProxy

MiB = 1024**2
#: key -> (size, uploaded in 8 MiB parts): one PUT and Content-MD5; mirrored parts; the hashed path.
OBJECTS = {"small": (70_000, False), "empty": (0, False), "parts": (19 * MiB, True), "plain-big": (11 * MiB, False)}


def _flip(keys: set[str]):
    def alter(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        key = unquote(urlsplit(path).path).lstrip("/").partition("/")[2]
        if method == "GET" and key in keys and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        return headers, body
    return alter


@pytest.fixture
def source(s3, make_bucket):
    src = make_bucket("xs-src")
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    bodies = {}
    for key, (size, in_parts) in OBJECTS.items():
        bodies[key] = os.urandom(size)
        if in_parts:
            s3.upload_fileobj(io.BytesIO(bodies[key]), src, key, Config=config)
        else:
            s3.put_object(Bucket=src, Key=key, Body=bodies[key])
    assert s3.head_object(Bucket=src, Key="parts")["ETag"].strip('"').endswith("-3")
    return src, bodies


def _copy(s3_server, src: str, dst: str, tampered: set[str]) -> dict[str, str | ClientError]:
    target = replace(implicit_storage(s3_server.endpoint_url), multipart_threshold=8 * MiB,
                     multipart_chunksize=5 * MiB)
    op = CrossStorageCopyOperation(PutObjectCopy.model_validate({"TargetResource": f"arn:aws:s3:::{dst}"}), target)
    out: dict[str, str | ClientError] = {}
    with FaultProxy(s3_server.endpoint_url, alter=_flip(tampered)) as proxy:
        client = LeanS3Client(implicit_storage(proxy.url))
        try:
            for key in OBJECTS:
                try:
                    out[key] = op.apply(client, Task(src, key))
                except ClientError as exc:
                    out[key] = exc
        finally:
            op.close()
            client.close()
    return out


def test_untampered_copies_are_identical_and_keep_their_etags(s3, s3_server, make_bucket, source):
    src, bodies = source
    dst = make_bucket("xs-dst")
    results = _copy(s3_server, src, dst, set())
    assert all(isinstance(r, str) and r.startswith("Successful") for r in results.values()), results
    assert "in 3 parts" in results["parts"] and "in 3 parts" in results["plain-big"]  # mirrored 8 MiB; 5 MiB
    for key, body in bodies.items():
        got = s3.get_object(Bucket=dst, Key=key)
        assert hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(body).hexdigest(), key
        if key != "plain-big":  # one PUT, or the source's own parts: the very same ETag
            assert got["ETag"] == s3.head_object(Bucket=src, Key=key)["ETag"], key


def test_bytes_changed_on_the_way_fail_the_copy_and_leave_nothing(s3, s3_server, make_bucket, source):
    src, _ = source
    dst = make_bucket("xs-bad")
    tampered = {"small", "parts"}
    results = _copy(s3_server, src, dst, tampered)
    for key in tampered:
        assert isinstance(results[key], ClientError), (key, results[key])
        assert results[key].response["Error"]["Code"] == "ChecksumMismatch", (key, results[key].response)
    assert isinstance(results["empty"], str) and isinstance(results["plain-big"], str)
    # The one PUT was refused by the target (Content-MD5) and the mirrored upload aborted before
    # completion: neither left an object.
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=dst).get("Contents", [])}
    assert "small" not in listed and "parts" not in listed
    assert not s3.list_multipart_uploads(Bucket=dst).get("Uploads")


def test_which_etags_can_be_compared():
    assert etags_comparable({"ETag": '"x"'}, {})
    assert not etags_comparable({"x-amz-server-side-encryption": "aws:kms"}, {})
    assert not etags_comparable({}, {"x-amz-server-side-encryption-customer-algorithm": "AES256"})
    assert etags_comparable({"x-amz-server-side-encryption": "AES256"}, {"x-amz-server-side-encryption": "AES256"})
    md5 = hashlib.md5(b"a").hexdigest()
    assert composite_etag([md5, md5]) == hashlib.md5(bytes.fromhex(md5) * 2).hexdigest() + "-2"
    assert composite_etag([md5, "not-an-md5"]) is None

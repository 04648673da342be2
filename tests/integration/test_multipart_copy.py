"""Copies too large for one CopyObject go in parts (UploadPartCopy), as S3 and COS need above
5 GiB. SeaweedFS accepts any single copy, so these tests prove the path by the requests the
storage received (a recording proxy), and one by a proxy that refuses as AWS does."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog, implicit_storage
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.support.fault_proxy import FaultProxy

MiB = 1024**2


def part_copies(proxy: FaultProxy) -> list[tuple[str, dict]]:
    """(path, query) of the UploadPartCopy requests the proxy saw."""
    out = []
    for method, path, headers in proxy.requests:
        query = parse_qs(urlsplit(path).query)
        if method == "PUT" and "partNumber" in query and "x-amz-copy-source" in headers:
            out.append((urlsplit(path).path, query))
    return out


def through(proxy: FaultProxy, settings, **storage_fields):
    storage = replace(implicit_storage(proxy.url), **storage_fields)
    return replace(settings, storages=StorageCatalog.single(storage), segment_size=50)


def test_objects_above_the_threshold_are_copied_in_parts(s3, s3_server, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    bodies = {f"big/{i}": os.urandom(12 * MiB + i) for i in range(3)}
    bodies.update({f"small/{i}": os.urandom(1000 + i) for i in range(5)})
    for key, body in bodies.items():
        extra = {"ContentType": "video/mp4", "Metadata": {"camera": "a7"}, "Tagging": "kind=raw"} \
            if key == "big/1" else {}
        s3.put_object(Bucket=src, Key=key, Body=body, **extra)
    write_manifest(s3, src, "m.csv", [(src, k) for k in bodies])
    with FaultProxy(s3_server.endpoint_url) as proxy:
        cfg = through(proxy, settings, multipart_copy_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        job = create_and_run(store, cfg, copy_request(src, "m.csv", dst, rep, token="parts"))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 8
    parts = part_copies(proxy)
    assert len(parts) == 9  # three 12 MiB objects, three 5 MiB parts each
    assert {p for p, _ in parts} == {f"/{dst}/big/{i}" for i in range(3)}
    for key, body in bodies.items():
        got = s3.get_object(Bucket=dst, Key=key)
        assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest(), key
        if key.startswith("big/"):
            assert got["ETag"].strip('"').endswith("-3")
    big1 = s3.head_object(Bucket=dst, Key="big/1")
    assert big1["ContentType"] == "video/mp4" and big1["Metadata"] == {"camera": "a7"}
    assert s3.get_object_tagging(Bucket=dst, Key="big/1")["TagSet"] == [{"Key": "kind", "Value": "raw"}]
    _, rows, _ = read_report(s3, rep, job)
    messages = {r["Key"]: r["ResultMessage"] for r in rows}
    assert "multipart copy" in messages["big/0"] and messages["small/0"] == "Successful"


def test_a_failed_part_aborts_the_upload(s3, s3_server, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    s3.put_object(Bucket=src, Key="big", Body=os.urandom(11 * MiB))
    write_manifest(s3, src, "m.csv", [(src, "big")])

    def refuse_part_2(method: str, path: str, headers: dict) -> tuple[int, bytes] | None:
        query = parse_qs(urlsplit(path).query)
        if method == "PUT" and query.get("partNumber") == ["2"] and "x-amz-copy-source" in headers:
            return 403, b"<Error><Code>AccessDenied</Code><Message>part refused by the test</Message></Error>"
        return None

    with FaultProxy(s3_server.endpoint_url, respond=refuse_part_2) as proxy:
        cfg = through(proxy, settings, multipart_copy_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        job = create_and_run(store, cfg, copy_request(src, "m.csv", dst, rep, token="abort"))
    assert job.progress_summary.number_of_tasks_failed == 1
    _, rows, _ = read_report(s3, rep, job)
    assert rows[0]["ErrorCode"] == "AccessDenied" and "part refused" in rows[0]["ResultMessage"]
    aborts = [p for m, p, _ in proxy.requests if m == "DELETE" and "uploadId=" in p]
    assert len(aborts) == 1
    assert not s3.list_multipart_uploads(Bucket=dst).get("Uploads")
    assert s3.list_objects_v2(Bucket=dst).get("KeyCount", 0) == 0


def test_an_object_over_5_gib_is_copied_in_parts(s3, s3_server, make_bucket, store, settings, tmp_path):
    """A real 5 GiB + 1 MiB object; the proxy refuses a single CopyObject of it as AWS does."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    size = 5 * 1024 * MiB + MiB
    path = tmp_path / "huge.bin"
    with open(path, "wb") as f:  # sparse but for a marker at each end
        f.write(b"start")
        f.seek(size - 3)
        f.write(b"end")
    t0 = time.monotonic()
    from boto3.s3.transfer import TransferConfig

    s3.upload_file(str(path), src, "huge.bin", Config=TransferConfig(multipart_chunksize=256 * MiB, max_concurrency=4))
    path.unlink()
    seeded_s = time.monotonic() - t0
    write_manifest(s3, src, "m.csv", [(src, "huge.bin")])

    def as_aws(method: str, url: str, headers: dict) -> tuple[int, bytes] | None:
        query = parse_qs(urlsplit(url).query)
        if method == "PUT" and "x-amz-copy-source" in headers and "partNumber" not in query:
            bucket, _, key = headers["x-amz-copy-source"].lstrip("/").partition("/")
            if s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 5 * 1024 * MiB:
                return 400, (b"<Error><Code>InvalidRequest</Code><Message>The specified copy source is larger "
                             b"than the maximum allowable size for a copy source: 5368709120</Message></Error>")
        return None

    t0 = time.monotonic()
    with FaultProxy(s3_server.endpoint_url, respond=as_aws) as proxy:
        cfg = through(proxy, settings, multipart_chunksize=512 * MiB)
        job = create_and_run(store, cfg, copy_request(src, "m.csv", dst, rep, token="huge"))
    copied_s = time.monotonic() - t0
    print(f"5 GiB + 1 MiB: seeded in {seeded_s:.0f} s, copied in {copied_s:.0f} s")
    assert job.status is JobStatus.COMPLETE, job.failure_reasons
    assert job.progress_summary.number_of_tasks_succeeded == 1
    assert len(part_copies(proxy)) == 11  # ten 512 MiB parts and the last MiB
    head = s3.head_object(Bucket=dst, Key="huge.bin")
    assert head["ContentLength"] == size and head["ETag"].strip('"').endswith("-11")
    assert s3.get_object(Bucket=dst, Key="huge.bin", Range="bytes=0-4")["Body"].read() == b"start"
    assert s3.get_object(Bucket=dst, Key="huge.bin", Range=f"bytes={size - 3}-")["Body"].read() == b"end"
    s3.delete_object(Bucket=src, Key="huge.bin")
    s3.delete_object(Bucket=dst, Key="huge.bin")

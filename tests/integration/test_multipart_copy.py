"""Copies too large for one CopyObject go in parts (UploadPartCopy), as S3 and COS need above
5 GiB. SeaweedFS accepts any single copy, so these tests prove the path by the requests the
storage received (a recording proxy), and one by a proxy that refuses as AWS does."""

from __future__ import annotations

import hashlib
import os
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

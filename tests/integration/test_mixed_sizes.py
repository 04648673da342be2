"""Mixed sizes without stragglers (issue 25, item 3), on SeaweedFS through a recording proxy: a
copy job's segments are listed for their sizes, each segment's largest object starts first and
goes in parts (UploadPartCopy), the small ones are one CopyObject each with no HEAD, and the
report still has exactly one truthful row per task."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog, implicit_storage
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.support.fault_proxy import FaultProxy

MiB = 1024**2
BIG = {5: 7 * MiB, 17: 13 * MiB, 23: 11 * MiB}  # manifest position → size; the rest 1,000 bytes


def _touched(proxy: FaultProxy, src: str, dst: str) -> list[str]:
    """Keys in the order the job first wrote them to the target (Preparing HEADs the manifest's first
    objects before any of that, so the source's HEADs do not tell)."""
    seen: list[str] = []
    for method, path, _ in proxy.requests:
        parts = urlsplit(path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        if key and method in ("PUT", "POST") and bucket == dst and key not in seen:
            seen.append(key)
    return seen


def test_a_mixed_job_starts_each_segments_largest_first_splits_it_and_reports_every_task_once(
        s3, s3_server, make_bucket, store, settings):
    src, dst, rep = make_bucket("mixsrc"), make_bucket("mixdst"), make_bucket("mixrep")
    keys = [f"k{i:02d}" for i in range(25)]
    bodies = {k: os.urandom(BIG.get(i, 1000)) for i, k in enumerate(keys)}
    for key, body in bodies.items():
        s3.put_object(Bucket=src, Key=key, Body=body)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    with FaultProxy(s3_server.endpoint_url) as proxy:
        storage = replace(implicit_storage(proxy.url), copy_split_threshold=6 * MiB, multipart_chunksize=5 * MiB)
        # One task thread, so the order the storage sees is the order the tasks start in.
        cfg = replace(settings, storages=StorageCatalog.single(storage), segment_size=10, concurrency=1)
        job = create_and_run(store, cfg, copy_request(src, "m.csv", dst, rep, token="mixed"))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 25

    _, rows, _ = read_report(s3, rep, job)
    assert sorted(r["Key"] for r in rows) == keys  # one row per task
    messages = {r["Key"]: r["ResultMessage"] for r in rows}
    for i, key in enumerate(keys):
        assert ("multipart copy" in messages[key]) is (i in BIG), messages[key]
        got = s3.get_object(Bucket=dst, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(bodies[key]).digest(), key

    order = _touched(proxy, src, dst)
    for first in range(0, 25, 10):  # each segment: its large object before any of its small ones
        segment = keys[first:first + 10]
        big = [k for i, k in enumerate(keys) if i in BIG and k in segment]
        assert [k for k in order if k in segment][0] == big[0]
    parts = [path for method, path, headers in proxy.requests
             if method == "PUT" and "partNumber" in parse_qs(urlsplit(path).query) and "x-amz-copy-source" in headers]
    assert len(parts) == 2 + 3 + 3  # 7, 13 and 11 MiB in 5 MiB parts
    heads = [urlsplit(path).path.rsplit("/", 1)[1] for method, path, _ in proxy.requests
             if method == "HEAD" and f"/{src}/" in path]
    assert all(k in heads for i, k in enumerate(keys) if i in BIG)  # a part copy HEADs its source
    assert all(heads.count(k) <= 1 for i, k in enumerate(keys) if i not in BIG)  # small: Preparing's sample only
    lists = [path for method, path, _ in proxy.requests if method == "GET" and "list-type=2" in path]
    assert 1 <= len(lists) <= 4  # the sizes: one listing page per segment at most, not a request per object

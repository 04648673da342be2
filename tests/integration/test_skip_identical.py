"""Incremental copy (cosbatch:skip-identical / --skip-identical) on a real SeaweedFS: identical
targets are skipped, changed and new ones copied, undecidable ones copied with the reason;
copied and skipped counted apart; listings replace HEADs where the manifest is dense, HEADs stay
for sparse ones (counted on the clients the operation really uses)."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from cosbatch.cli.outcome import summary_line
from cosbatch.controller import JobService
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus as S
from cosbatch.manifests import Task
from cosbatch.operations import operation_for
from cosbatch.operations.skip_identical import SKIPPED, compare, prefer_listing
from cosbatch.storage import StorageCatalog
from cosbatch.storage.lean import LeanS3Client
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest

SKIP = [{"Key": "cosbatch:skip-identical", "Value": "true"}]


def _seeded_and_copied(s3, make_bucket, store, settings, n: int):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"data/{i:05d}" for i in range(n)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "first.csv", [(src, k) for k in keys])
    first = create_and_run(store, settings, copy_request(src, "first.csv", dst, rep, token="first"))
    assert first.status is S.COMPLETE and first.progress_summary.number_of_tasks_succeeded == n
    return src, dst, rep, keys


@pytest.mark.parametrize("n", [30, 600])  # 30: HEADs per object; 600: listings of both sides
def test_second_pass_skips_identical_and_copies_the_rest(s3, make_bucket, store, settings, n):
    src, dst, rep, keys = _seeded_and_copied(s3, make_bucket, store, settings, n)
    changed, same_size, gone = keys[3], keys[7], keys[11]
    s3.put_object(Bucket=src, Key=changed, Body=b"changed, and longer than before")
    original = s3.get_object(Bucket=src, Key=same_size)["Body"].read()
    s3.put_object(Bucket=dst, Key=same_size, Body=bytes(reversed(original)))  # same size, other bytes
    s3.delete_object(Bucket=dst, Key=gone)
    new = ["data/zz-new-1", "data/zz-new-2"]
    put_objects(s3, src, new)
    write_manifest(s3, src, "second.csv", [(src, k) for k in keys + new])

    done = create_and_run(store, settings, copy_request(src, "second.csv", dst, rep, token="second", Tags=SKIP))
    assert done.status is S.COMPLETE
    copied = {changed, same_size, gone, *new}
    p = done.progress_summary
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed, p.number_of_tasks_skipped) == (n + 2, 0, n - 3)
    _, rows, job_doc = read_report(s3, rep, done)
    messages = {r["Key"]: r["ResultMessage"] for r in rows}
    assert Counter(r["Key"] for r in rows) == Counter(keys + new)
    assert {k for k, m in messages.items() if m == f"{SKIPPED} (by ETag)"} == set(keys) - copied
    assert {k: messages[k] for k in copied} == {k: "Successful" for k in copied}
    for key in keys + new:
        assert s3.get_object(Bucket=dst, Key=key)["Body"].read() == s3.get_object(Bucket=src, Key=key)["Body"].read()
    assert job_doc["Job"]["ProgressSummary"]["NumberOfTasksSkipped"] == n - 3
    assert f"{n + 2} succeeded (5 copied, {n - 3} skipped: identical at target)" in summary_line(done, {})


def test_describe_json_counts_skipped_only_for_skip_jobs(s3, make_bucket, store, settings):
    src, dst, rep, keys = _seeded_and_copied(s3, make_bucket, store, settings, 5)
    service = JobService(store, settings.storages)
    plain = service.describe_job(service.list_jobs(None).jobs[0].job_id)
    assert "NumberOfTasksSkipped" not in plain.describe()["ProgressSummary"]
    again = create_and_run(store, settings, copy_request(src, "first.csv", dst, rep, token="again", Tags=SKIP))
    assert again.describe()["ProgressSummary"]["NumberOfTasksSkipped"] == 5
    assert again.describe()["ProgressSummary"]["NumberOfTasksSucceeded"] == 5


def test_multipart_etags_with_different_part_counts_are_copied_saying_why(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    body = os.urandom(11 * 1024**2)

    def upload(bucket: str, part: int) -> str:
        up = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
        parts = []
        for i, start in enumerate(range(0, len(body), part), 1):
            etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=i, Body=body[start:start + part])
            parts.append({"PartNumber": i, "ETag": etag["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={"Parts": parts})
        return s3.head_object(Bucket=bucket, Key="big")["ETag"].strip('"')

    assert upload(src, int(5.5 * 1024**2)).endswith("-2") and upload(dst, 5 * 1024**2).endswith("-3")
    write_manifest(s3, src, "m.csv", [(src, "big")])
    done = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep, token="mp", Tags=SKIP))
    _, rows, _ = read_report(s3, rep, done)
    assert [r["ResultMessage"] for r in rows] == [
        "Successful; copied, not provably identical at target: multipart ETags with different part counts, "
        "and no full-object checksum of the same algorithm on both"]
    assert done.progress_summary.number_of_tasks_skipped == 0


def test_skip_identical_refusals(s3, make_bucket, store, settings):
    service = JobService(store, settings.storages)
    tagging = copy_request("bkt", "m.csv", "tgt", None, Tags=SKIP)
    tagging["Operation"] = {"S3PutObjectTagging": {"TagSet": []}}
    with pytest.raises(InvalidRequest, match="cosbatch:skip-identical=true applies to S3PutObjectCopy jobs only"):
        service.create_job(parse_create_job(tagging))
    with pytest.raises(InvalidRequest, match="does not apply to a dry run"):
        service.create_job(parse_create_job(copy_request("bkt", "m.csv", "tgt", None, Tags=SKIP, DryRun=True)))
    with pytest.raises(InvalidRequest, match="cosbatch:skip-identical: must be true or false"):
        service.create_job(parse_create_job(copy_request("bkt", "m.csv", "tgt", None,
                                                         Tags=[{"Key": "cosbatch:skip-identical", "Value": "y"}])))


class Counting:
    """A client whose calls are counted by name (the operation's own lean client, or its lister)."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, Counter()

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls[name] += 1
            return attr(*args, **kwargs)
        return call


def _instrumented(s3_server, dst: str):
    storage = StorageCatalog.at(s3_server.endpoint_url).default
    op = operation_for(parse_create_job(copy_request("bkt", "m.csv", dst, None)).operation, storage,
                       skip_identical=True)
    lister = Counting(op._lister(storage))
    op._listers[storage.name] = lister
    return op, Counting(LeanS3Client(storage)), lister


def test_dense_segment_is_compared_by_listings_sparse_one_by_heads(s3, s3_server, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = [f"p/{i:04d}" for i in range(1500)]
    put_objects(s3, src, keys)
    put_objects(s3, dst, keys[:1400])  # same bodies: identical
    op, client, lister = _instrumented(s3_server, dst)
    try:
        dense = [Task(src, k) for k in keys[:1200]]  # 1,200 tasks over 1,200 keys: 2 pages a side
        seg = op.for_segment(client, dense)
        messages = [seg.apply(client, t) for t in dense]
        assert messages == [f"{SKIPPED} (by ETag)"] * 1200
        assert lister.calls == Counter(list_objects_v2=4) and client.calls == Counter()  # no HEAD at all

        lister.calls.clear()
        tail = [Task(src, k) for k in keys[1300:1500]]  # 100 identical, 100 missing at the target
        seg = op.for_segment(client, tail)
        messages = [seg.apply(client, t) for t in tail]
        assert messages == [f"{SKIPPED} (by ETag)"] * 100 + ["Successful"] * 100
        # the next segment follows on: both sides were listed to their ends already, no request
        assert lister.calls == Counter() and client.calls == Counter(copy_object=100)

        lister.calls.clear()
        client.calls.clear()
        sparse = [Task(src, k) for k in keys[::150]]  # 10 keys spread over 1,500: HEADs are cheaper
        assert not prefer_listing(len(sparse))
        seg = op.for_segment(client, sparse)
        messages = [seg.apply(client, t) for t in sparse]
        assert messages == [f"{SKIPPED} (by ETag)"] * 10
        assert lister.calls == Counter() and client.calls == Counter(head_object_headers=20)
    finally:
        op.close()
        client.close()


def test_consecutive_segments_read_each_page_once_fetched_ahead(s3, s3_server, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = [f"r/{i:05d}" for i in range(5000)]
    put_objects(s3, src, keys)
    put_objects(s3, dst, keys)
    op, client, lister = _instrumented(s3_server, dst)
    try:
        for start in range(0, 5000, 1000):  # five segments of 1,000 consecutive keys
            tasks = [Task(src, k) for k in keys[start:start + 1000]]
            seg = op.for_segment(client, tasks)
            assert [seg.apply(client, t) for t in tasks] == [f"{SKIPPED} (by ETag)"] * 1000
        # 5 pages of 1,000 keys a side, the last one ending the listing: each read once, no HEAD
        assert lister.calls["list_objects_v2"] <= 2 * 6 and client.calls == Counter()
    finally:
        op.close()
        client.close()


def test_a_listing_that_turns_out_sparse_stops_and_heads_the_rest(s3, s3_server, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = [f"q/{i:05d}" for i in range(3000)]
    put_objects(s3, src, keys)
    put_objects(s3, dst, keys)
    op, client, lister = _instrumented(s3_server, dst)
    try:
        tasks = [Task(src, k) for k in keys[::30]]  # 100 tasks, one key in 30: ~33 per page
        assert prefer_listing(len(tasks))  # the estimate assumes dense keys...
        seg = op.for_segment(client, tasks)
        messages = [seg.apply(client, t) for t in tasks]
        assert messages == [f"{SKIPPED} (by ETag)"] * 100
        # ...the first page of each side shows ~33 tasks a page, under the 40 a page is worth: stop
        assert lister.calls == Counter(list_objects_v2=2)
        assert 0 < client.calls["head_object_headers"] < 2 * 100
    finally:
        op.close()
        client.close()


def test_compare_evidence():
    from cosbatch.operations.skip_identical import Seen
    from cosbatch.operations.verify import ObjectState

    md5 = "0123456789abcdef0123456789abcdef"
    assert compare(Seen(5, md5), Seen(5, md5)) == (True, "ETag")
    assert compare(Seen(5, md5), Seen(6, md5)) == (False, "size")
    assert compare(Seen(5, md5), Seen(5, md5[::-1])) == (False, "ETag")
    assert compare(Seen(5, md5 + "-2"), Seen(5, md5 + "-2")) == (True, "ETag")

    def with_crc(etag: str, value: str) -> Seen:
        return Seen.of(ObjectState.of({"Content-Length": "5", "ETag": f'"{etag}"', "x-amz-checksum-crc32c": value}))
    # multipart ETags cut differently: the checksum decides
    assert compare(with_crc(md5 + "-2", "AAAA"), with_crc(md5[::-1] + "-3", "AAAA")) == (True, "CRC32C checksum")
    assert compare(with_crc(md5 + "-2", "AAAA"), with_crc(md5[::-1] + "-3", "BBBB")) == (False, "CRC32C checksum")
    same, why = compare(Seen(5, md5 + "-2"), Seen(5, md5[::-1] + "-2"))
    assert same is None and why.startswith("multipart ETags that differ")
    kms = Seen.of(ObjectState.of({"Content-Length": "5", "ETag": f'"{md5}"', "x-amz-server-side-encryption": "aws:kms"}))
    assert compare(kms, Seen.of(ObjectState.of({"Content-Length": "5", "ETag": f'"{md5[::-1]}"'})))[0] is None

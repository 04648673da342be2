"""Mixed sizes (issue 25, item 3): byte-weighted segments, largest first, splitting large copies,
and the storage settings that switch them. Pure logic; the listing is a fake."""

from __future__ import annotations

from typing import Any

import pytest

from cosbatch.errors import ConfigError
from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.copy import CopyOperation, SizedSegmentCopy
from cosbatch.operations.sizing import SourceSizes, byte_weighted_ranges, largest_first
from cosbatch.storage import implicit_storage, load_storage_config

MiB = 1024**2


def test_byte_weighted_ranges_cut_by_bytes_and_by_count():
    sizes = [1] * 5 + [100] + [1] * 5 + [60, 60] + [1] * 3
    ranges = byte_weighted_ranges(sizes, max_tasks=4, max_bytes=100)
    assert ranges == [(0, 4), (4, 5), (5, 6), (6, 10), (10, 12), (12, 16)]
    covered = [i for a, b in ranges for i in range(a, b)]
    assert covered == list(range(len(sizes)))  # every task once, in order
    for a, b in ranges:
        assert b - a <= 4 and (b - a == 1 or sum(sizes[a:b]) <= 100)


def test_byte_weighted_ranges_edges():
    assert byte_weighted_ranges([], 10, 10) == []
    assert byte_weighted_ranges([500], 10, 10) == [(0, 1)]  # one object heavier than the limit: alone
    assert byte_weighted_ranges([1] * 7, 3, 10**9) == [(0, 3), (3, 6), (6, 7)]  # count alone, as before
    with pytest.raises(ValueError):
        byte_weighted_ranges([1], 0, 1)


def test_largest_first_keeps_every_task_and_the_order_of_the_unsized():
    tasks = [Task("b", k) for k in ("a", "big", "c", "mid", "d", "huge")] + [Task("b", "v", "ver1")]
    sizes = {("b", "a"): 1, ("b", "big"): 500, ("b", "mid"): 50, ("b", "huge"): 900, ("b", "c"): 1,
             ("b", "v"): 10**9}  # a versioned task's listed size is the latest version's: not used
    ordered = largest_first(tasks, sizes)
    assert [t.key for t in ordered] == ["huge", "big", "mid", "a", "c", "d", "v"]
    assert sorted(ordered) == sorted(tasks)


class _Lister:
    """A fake ListObjectsV2 over a sorted key space; counts its pages."""

    def __init__(self, objects: dict[str, int]) -> None:
        self.objects = dict(sorted(objects.items()))
        self.pages = 0

    def list_objects_v2(self, Bucket: str, MaxKeys: int = 1000, StartAfter: str | None = None,  # noqa: N803
                        ContinuationToken: str | None = None) -> dict[str, Any]:
        self.pages += 1
        after = ContinuationToken or StartAfter or ""
        keys = [k for k in self.objects if k > after]
        page = keys[:MaxKeys]
        truncated = len(keys) > MaxKeys
        return {"Contents": [{"Key": k, "Size": self.objects[k], "ETag": '"x"'} for k in page],
                "IsTruncated": truncated, **({"NextContinuationToken": page[-1]} if truncated else {})}

    def close(self) -> None:
        pass


def _sizes_with(lister: _Lister) -> SourceSizes:
    sizes = SourceSizes(implicit_storage("http://127.0.0.1:1"))
    sizes._lister = lister  # type: ignore[assignment]
    return sizes


def test_source_sizes_come_from_one_listing_page_per_segment():
    objects = {f"k{i:04d}": i for i in range(1500)}
    lister = _Lister(objects)
    sizes = _sizes_with(lister)
    try:
        first = sizes.of_segment([Task("src", f"k{i:04d}") for i in range(0, 800)])
        second = sizes.of_segment([Task("src", f"k{i:04d}") for i in range(800, 1500)])
    finally:
        sizes.close()
    assert first == {("src", f"k{i:04d}"): i for i in range(800)}
    assert second == {("src", f"k{i:04d}"): i for i in range(800, 1500)}
    assert lister.pages == 2
    assert sizes.of_segment([Task("a", "k0001"), Task("b", "k0002")]) == {}  # two buckets: no listing
    assert sizes.of_segment([Task("src", "k0001", "v1")]) == {}  # versions: a listing shows the latest only


class _Recorder:
    """A lean client stand-in: records requests, answers as SeaweedFS would."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[str] = []

    def copy_object(self, **kwargs: Any) -> dict:
        self.calls.append("CopyObject")
        return {}

    def head_object_headers(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        self.calls.append("HEAD")
        return {"content-length": str(self.size), "etag": '"0123456789abcdef0123456789abcdef"'}

    def create_multipart_upload(self, *args: Any) -> str:
        self.calls.append("CreateMultipartUpload")
        return "up1"

    def upload_part_copy(self, *args: Any, **kwargs: Any) -> tuple[str, dict]:
        self.calls.append("UploadPartCopy")
        return "0123456789abcdef0123456789abcdef", {}

    def complete_multipart_upload(self, *args: Any) -> str:
        self.calls.append("Complete")
        return "etag-2"


def _copy(split: int | None) -> CopyOperation:
    params = PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst"})
    return CopyOperation(params, implicit_storage("http://127.0.0.1:1", copy_split_threshold=split,
                                                  multipart_chunksize=5 * MiB))


def test_a_large_listed_object_is_split_into_parts_and_a_small_one_is_one_copy():
    op = _copy(split=8 * MiB)
    try:
        segment = SizedSegmentCopy(op, {("src", "big"): 20 * MiB, ("src", "small"): 1024})
        big = _Recorder(20 * MiB)
        assert "multipart copy" in segment.apply(big, Task("src", "big"))
        assert big.calls.count("UploadPartCopy") == 4 and big.calls[-1] == "Complete"
        small = _Recorder(1024)
        assert segment.apply(small, Task("src", "small")) == "Successful"
        assert small.calls == ["CopyObject"]  # no HEAD: the listing told its size
        unknown = _Recorder(20 * MiB)
        assert segment.apply(unknown, Task("src", "not-listed")) == "Successful"
        assert unknown.calls == ["CopyObject"]  # not listed: copied as before
        shrunk = _Recorder(1024)  # listed large, small by the time it is copied: one copy
        assert segment.apply(shrunk, Task("src", "big")) == "Successful"
        assert shrunk.calls == ["HEAD", "CopyObject"]
        assert [t.key for t in segment.order([Task("src", "small"), Task("src", "big")])] == ["big", "small"]
    finally:
        op.close()


def test_without_a_split_threshold_nothing_is_split():
    op = _copy(split=None)
    try:
        client = _Recorder(20 * MiB)
        assert SizedSegmentCopy(op, {("src", "big"): 20 * MiB}).apply(client, Task("src", "big")) == "Successful"
        assert client.calls == ["CopyObject"]
    finally:
        op.close()


def test_largest_first_off_gives_the_plain_copy_per_segment():
    params = PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst"})
    op = CopyOperation(params, implicit_storage("http://127.0.0.1:1", copy_largest_first=False))
    try:
        assert op.for_segment(None, [Task("src", "a")]) is op  # no listing, no order hook
    finally:
        op.close()


def test_the_storage_config_sets_and_checks_the_mixed_size_keys(tmp_path):
    path = tmp_path / "storages.toml"
    path.write_text('[storage.a]\nendpoint_url = "http://127.0.0.1:9000"\ndefault = true\n'
                    'copy_split_threshold = "512MiB"\ncopy_largest_first = false\n'
                    '[storage.b]\nendpoint_url = "http://127.0.0.1:9001"\nregion = "eu-west-1"\ncopy_split_threshold = "off"\n')
    catalog = load_storage_config(path, implicit_storage("http://127.0.0.1:8333"))
    a, b = catalog.get("a"), catalog.get("b")
    assert (a.copy_split_threshold, a.copy_largest_first) == (512 * MiB, False)
    assert (b.copy_split_threshold, b.copy_largest_first) == (None, True)
    assert implicit_storage("http://x").copy_split_threshold == 256 * MiB  # the default
    path.write_text('[storage.a]\nendpoint_url = "http://127.0.0.1:9000"\ncopy_split_threshold = "1KiB"\n')
    with pytest.raises(ConfigError, match="copy_split_threshold"):
        load_storage_config(path, implicit_storage("http://127.0.0.1:8333"))


def test_a_manifest_is_scanned_into_the_byte_weighted_counts():
    from cosbatch.manifests import CsvLayout, scan_csv

    data = "".join(f"bucket,k{i}\n" for i in range(10)).encode()
    total, segments = scan_csv([data], CsvLayout(), 4, counts=[1, 2])
    assert total == 10 and [s.task_count for s in segments] == [1, 2, 4, 3]  # then by count, as before
    assert [s.first_line for s in segments] == [1, 2, 4, 8]


def test_the_segment_byte_limit_leaves_small_object_jobs_alone():
    from cosbatch.operations.sizing import MIN_SEGMENT_BYTES, segment_byte_limit

    assert segment_byte_limit(20_000 * 1024, 20_000, 1000) == MIN_SEGMENT_BYTES
    assert segment_byte_limit(100 * 1024**3, 10_000, 1000) == 10 * 1024**3  # the count-cut average
    sizes = [1024] * 10_000
    assert len(byte_weighted_ranges(sizes, 1000, segment_byte_limit(sum(sizes), len(sizes), 1000))) == 10


def test_the_part_pool_runs_the_largest_objects_parts_first_and_cancels_waiting_ones():
    import threading

    from cosbatch.operations.part_pool import PartPool

    pool = PartPool(1)
    gate, ran = threading.Event(), []
    try:
        pool.submit(10**9, gate.wait)  # holds the one thread while the rest queue up
        small = [pool.submit(300, ran.append, f"small-{n}") for n in range(2)]
        cancelled = pool.submit(5, ran.append, "never")
        big = [pool.submit(2000, ran.append, f"big-{n}") for n in range(2)]
        assert cancelled.cancel()
        gate.set()
        for future in small + big:
            future.result(timeout=5)
        assert ran == ["big-0", "big-1", "small-0", "small-1"]
        failing = pool.submit(1, lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=5)
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(1, print)

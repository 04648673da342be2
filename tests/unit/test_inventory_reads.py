"""Preparing an inventory manifest reads each data file once: its rows (every one validated) and
its Size column come from the same bytes."""

from __future__ import annotations

import io
import json
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cosbatch.controller.preparer import _inventory_segments
from cosbatch.names import ObjectRef


class _Bucket:
    """get_object/head_object over a dict of objects, counting the GETs of each key."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.gets: Counter[str] = Counter()

    def head_object(self, Bucket: str, Key: str, **_: Any) -> dict:  # noqa: N803 (boto3's names)
        return {"ETag": '"e"', "ContentLength": len(self.objects[Key])}

    def get_object(self, Bucket: str, Key: str, **_: Any) -> dict:  # noqa: N803
        self.gets[Key] += 1
        return {"Body": io.BytesIO(self.objects[Key])}


def _parquet(keys: list[str], sizes: list[int]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"bucket": ["src"] * len(keys), "key": keys, "size": sizes}), buf)
    return buf.getvalue()


def test_each_data_file_is_read_once_and_cut_by_bytes():
    first, second = [f"a/{i:03d}" for i in range(60)], [f"b/{i:03d}" for i in range(30)]
    files = {"inventory/data/1.parquet": _parquet(first, [2 * 1024**3] * 6 + [12] * 54),
             "inventory/data/2.parquet": _parquet(second, [12] * 30)}
    manifest = {"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::src", "version": "2016-11-30",
                "fileFormat": "Parquet", "fileSchema": "message s3.inventory { }",
                "files": [{"key": k, "size": len(d), "MD5checksum": "-"} for k, d in files.items()]}
    bucket = _Bucket({"inventory/manifest.json": json.dumps(manifest).encode(), **files})
    total, segments = _inventory_segments(SimpleNamespace(job_id="j"), bucket,
                                          ObjectRef("src", "inventory/manifest.json"), None, None, 25)
    assert total == 90
    assert all(bucket.gets[k] == 1 for k in files), bucket.gets
    # 90 tasks by 25 are 3.6 segments' worth, so a segment carries at most 12 GiB / 3.6 = 3.3 GiB:
    # one of the 2 GiB objects each (the sixth with 24 small ones, up to 25 tasks), not all six in the
    # first; each file is cut on its own (the second's 30 rows: 25 and 5)
    assert [s.task_count for s in segments] == [1, 1, 1, 1, 1, 25, 25, 5, 25, 5]
    assert sum(s.task_count for s in segments) == 90

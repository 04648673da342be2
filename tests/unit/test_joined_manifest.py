"""The streamed join of many objects into one manifest (undo records, failed results)."""

from __future__ import annotations

import hashlib
import random

import pytest

from cosbatch.errors import InvalidRequest
from cosbatch.reports.joined_manifest import LineCounter, write_joined_manifest


class RecordingS3:
    """Just the calls the join makes, kept in memory, with what was sent and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []  # (call, bytes sent)
        self.objects: dict[str, bytes] = {}
        self.parts: dict[int, bytes] = {}

    def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803
        self.calls.append(("put_object", len(Body)))
        self.objects[Key] = Body
        return {"ETag": f'"{hashlib.md5(Body).hexdigest()}"'}

    def create_multipart_upload(self, Bucket, Key, ContentType):  # noqa: N803
        self.calls.append(("create_multipart_upload", 0))
        return {"UploadId": "u1"}

    def upload_part(self, Bucket, Key, UploadId, PartNumber, Body):  # noqa: N803
        self.calls.append(("upload_part", len(Body)))
        self.parts[PartNumber] = Body
        return {"ETag": f'"p{PartNumber}"'}

    def complete_multipart_upload(self, Bucket, Key, UploadId, MultipartUpload):  # noqa: N803
        self.calls.append(("complete_multipart_upload", 0))
        assert [p["PartNumber"] for p in MultipartUpload["Parts"]] == sorted(self.parts)
        self.objects[Key] = b"".join(self.parts[n] for n in sorted(self.parts))
        return {"ETag": '"joined-2"'}

    def abort_multipart_upload(self, Bucket, Key, UploadId):  # noqa: N803
        self.calls.append(("abort_multipart_upload", 0))


def empty() -> Exception:
    return InvalidRequest("nothing to join")


def test_it_writes_as_it_reads_never_holding_the_whole():
    """The input is a generator that, before each chunk, checks what has been uploaded already: a
    join that read everything first (b"".join, list()) would see no part sent while it is read."""
    s3 = RecordingS3()
    line = b"bkt,some/key/0000001.jpg,,%7B%22op%22%3A%22tag%22%7D\n"  # 52 bytes
    part = 1024
    read = 0

    def records():
        nonlocal read
        for _ in range(200):  # 10,400 bytes: ten parts and a bit
            sent = sum(n for call, n in s3.calls if call == "upload_part")
            assert read - sent < part + len(line), f"{read - sent} bytes read but not sent: held in memory"
            read += len(line)
            yield line

    etag, count = write_joined_manifest(s3, "b", "m.csv", records(), empty, part_bytes=part)
    assert (etag, count) == ("joined-2", 200)
    assert s3.objects["m.csv"] == line * 200
    assert [n for call, n in s3.calls if call == "upload_part"] == [part] * 10 + [len(line) * 200 - 10 * part]


def test_small_joins_are_one_put_with_the_md5_etag():
    s3 = RecordingS3()
    data = [b"a,k1\n", b"a,k", b"2\n\n", b"  \n", b"a,k3"]  # a line cut between two objects' chunks; blank lines
    etag, count = write_joined_manifest(s3, "b", "m.csv", iter(data), empty)
    assert s3.calls == [("put_object", len(b"".join(data)))]
    assert (etag, count) == (hashlib.md5(b"".join(data)).hexdigest(), 3)


def test_no_line_writes_nothing_and_raises_the_callers_error():
    s3 = RecordingS3()
    with pytest.raises(InvalidRequest, match="nothing to join"):
        write_joined_manifest(s3, "b", "m.csv", iter([b"\n", b"  \r\n"]), empty)
    assert s3.calls == []
    with pytest.raises(InvalidRequest, match="nothing to join"):  # blank, but more than a part: begun, then aborted
        write_joined_manifest(s3, "b", "m.csv", iter([b" " * 3000]), empty, part_bytes=1024)
    assert s3.calls[-1] == ("abort_multipart_upload", 0) and "m.csv" not in s3.objects


def test_a_read_error_mid_way_aborts_the_upload():
    s3 = RecordingS3()

    def records():
        yield b"x,y\n" * 600
        raise InvalidRequest("cannot read the undo records")

    with pytest.raises(InvalidRequest, match="cannot read"):
        write_joined_manifest(s3, "b", "m.csv", records(), empty, part_bytes=1024)
    assert s3.calls[-1] == ("abort_multipart_upload", 0) and "m.csv" not in s3.objects


def test_lines_are_counted_as_splitlines_counts_them_wherever_chunks_are_cut():
    rnd = random.Random(7)
    for _ in range(2000):
        data = bytes(rnd.choice(b"ab \t\n\r") for _ in range(rnd.randint(0, 40)))
        counter, at = LineCounter(), 0
        while at < len(data):
            cut = at + rnd.randint(1, 6)
            counter.feed(data[at:cut])
            at = cut
        assert counter.total() == sum(1 for line in data.splitlines() if line.strip()), data

"""CSV manifest parsing and segmenting, without a server."""

import random
from urllib.parse import quote_plus

import pytest

from cosbatch.errors import ManifestError
from cosbatch.manifests import CsvLayout, Task, parse_csv_line, scan_csv
from cosbatch.manifests.csv_manifest import MAX_LINE_BYTES, read_csv_segment
from cosbatch.models import ManifestField as F

AUTO = CsvLayout()


def chunked(data: bytes, size: int):
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_parse_lines():
    assert parse_csv_line(b"b1,a%2Fb+c.txt", AUTO, 1) == Task("b1", "a/b c.txt")
    assert parse_csv_line(b"b1,k,v123\r\n", AUTO, 1) == Task("b1", "k", "v123")
    assert parse_csv_line(b"b1,k,", AUTO, 1) == Task("b1", "k", None)
    assert parse_csv_line(b'b1,"a,b"', AUTO, 1) == Task("b1", "a,b")
    assert parse_csv_line(b"   ", AUTO, 1) is None
    assert parse_csv_line(b"b1,%E4%B8%AD%E6%96%87", AUTO, 1) == Task("b1", "中文")
    layout = CsvLayout((F.KEY, F.IGNORE, F.BUCKET))
    assert parse_csv_line(b"k1,zzz,b1", layout, 1) == Task("b1", "k1")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"b1", "expected 2 or 3 columns"),
        (b"b1,k,v,x", "expected 2 or 3 columns"),
        (b"b1,bad%zzencoding", "bad URL-encoding"),
        (b"b1,%ff%fe", "does not URL-decode to UTF-8"),
        (b"\xff\xfe,k", "not valid UTF-8"),
        (b"bad bucket!,k", "invalid bucket name"),
        (b"b1,", "empty object key"),
        (b"b" * (MAX_LINE_BYTES + 1), "longer than"),
    ],
)
def test_malformed_lines_name_the_line(line, fragment):
    with pytest.raises(ManifestError) as err:
        parse_csv_line(line, AUTO, 7)
    assert "line 7" in err.value.message and fragment in err.value.message


def test_fields_fix_the_column_count():
    with pytest.raises(ManifestError, match="expected 2 columns"):
        parse_csv_line(b"b1,k,v", CsvLayout((F.BUCKET, F.KEY)), 3)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("segment_size", [1, 3, 1000])
def test_segments_cover_every_task_once(chunk, segment_size):
    rng = random.Random(chunk * 31 + segment_size)
    keys = [f"dir {i}/ключ+{rng.randint(0, 10**6)}%.txt" for i in range(101)]
    lines = []
    for i, k in enumerate(keys):
        lines.append(f"bkt,{quote_plus(k)}\n" if i % 10 else f"bkt,{quote_plus(k)}\r\n\n")
    data = "".join(lines).encode()
    total, segments = scan_csv(chunked(data, chunk), AUTO, segment_size)
    assert total == len(keys)
    assert sum(s.task_count for s in segments) == len(keys)
    assert all(s.task_count <= segment_size for s in segments)
    seen = []
    for s in segments:
        tasks = list(read_csv_segment(chunked(data[s.start : s.end], chunk), AUTO, s.first_line))
        assert len(tasks) == s.task_count
        seen.extend(t.key for t in tasks)
    assert seen == keys


def test_scan_reports_first_bad_line_number():
    data = b"b1,k1\nb1,k2\n\nb1,k3,v,extra\n"
    with pytest.raises(ManifestError, match="line 4"):
        scan_csv([data], AUTO, 10)


def test_last_line_without_newline():
    total, segs = scan_csv([b"b1,k1\nb1,k2"], AUTO, 10)
    assert total == 2 and segs[0].end == 11

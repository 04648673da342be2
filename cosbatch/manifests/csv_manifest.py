"""CSV manifests (S3BatchOperations_CSV_20180820 / COSBatchOperations_CSV_V1).

One object per line: bucket,key[,versionId] (or the order Spec.Fields gives),
keys URL-encoded (decoded with unquote_plus), no header, blank lines ignored.
Any malformed line fails the whole manifest with its line number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote_plus

from cosbatch.errors import ManifestError
from cosbatch.models import ManifestField

MAX_LINE_BYTES = 64 * 1024
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_BUCKET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$")


class Task(NamedTuple):
    """One object the operation runs on."""

    bucket: str
    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class CsvLayout:
    """Which column holds what; None fields means 2 or 3 columns, inferred per line."""

    fields: tuple[ManifestField, ...] | None = None

    def columns(self, n: int, line_no: int) -> tuple[ManifestField, ...]:
        if self.fields is not None:
            if n != len(self.fields):
                raise ManifestError(
                    f"manifest line {line_no}: expected {len(self.fields)} columns "
                    f"({', '.join(f.value for f in self.fields)}), found {n}",
                    code="ManifestParseError",
                )
            return self.fields
        if n == 2:
            return (ManifestField.BUCKET, ManifestField.KEY)
        if n == 3:
            return (ManifestField.BUCKET, ManifestField.KEY, ManifestField.VERSION_ID)
        raise ManifestError(
            f"manifest line {line_no}: expected 2 or 3 columns (Bucket, Key[, VersionId]), found {n}",
            code="ManifestParseError",
        )


#: A CSV cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(text: str) -> str:
    """Neutralise a free-text CSV cell: one leading `'` before a formula start (or a `'`)."""
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def unescape_cell(text: str) -> str:
    """The text escape_cell was given (reports read back, e.g. as a re-run manifest)."""
    return text[1:] if text.startswith("'") else text


def _decode(value: str, what: str, line_no: int) -> str:
    if _BAD_ESCAPE.search(value):
        raise ManifestError(f"manifest line {line_no}: bad URL-encoding in {what} {value!r}")
    try:
        return unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        raise ManifestError(
            f"manifest line {line_no}: {what} {value!r} does not URL-decode to UTF-8"
        ) from None


def parse_csv_line(raw: bytes, layout: CsvLayout, line_no: int) -> Task | None:
    """One manifest line → Task; None for a blank line; ManifestError if malformed."""
    if len(raw) > MAX_LINE_BYTES:
        raise ManifestError(f"manifest line {line_no}: longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"manifest line {line_no}: not valid UTF-8") from None
    text = text.rstrip("\r\n")
    if text.startswith("\ufeff") and line_no == 1:
        text = text[1:]
    if not text.strip():
        return None
    if '"' in text:
        try:
            cells = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise ManifestError(f"manifest line {line_no}: {exc}") from None
    else:
        cells = text.split(",")
    columns = layout.columns(len(cells), line_no)
    bucket = key = version = None
    for name, cell in zip(columns, cells, strict=True):
        if name is ManifestField.BUCKET:
            bucket = cell.strip()
        elif name is ManifestField.KEY:
            key = _decode(cell, "key", line_no)
        elif name is ManifestField.VERSION_ID:
            # A report's VersionId cell is formula-escaped; no storage's version ID starts with "'".
            version = unescape_cell(cell.strip()) or None
    if not bucket or not _BUCKET.match(bucket):
        raise ManifestError(f"manifest line {line_no}: invalid bucket name {bucket!r}")
    if not key:
        raise ManifestError(f"manifest line {line_no}: empty object key")
    return Task(bucket, key, version)


def iter_lines(chunks: Iterable[bytes], start_offset: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """Split a byte stream into lines: (start byte, end byte after the newline, line bytes)."""
    pending = b""
    pos = start_offset  # byte offset of pending[0]
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        begin = 0
        while True:
            nl = pending.find(b"\n", begin)
            if nl < 0:
                break
            yield pos + begin, pos + nl + 1, pending[begin:nl]
            begin = nl + 1
        pos += begin
        pending = pending[begin:]
        if len(pending) > MAX_LINE_BYTES + 2:
            # A line longer than any valid one: report it now rather than buffering on.
            yield pos, pos + len(pending), pending
            return
    if pending:
        yield pos, pos + len(pending), pending


@dataclass(frozen=True)
class ScannedSegment:
    start: int
    end: int
    first_line: int
    task_count: int


def scan_csv(
    chunks: Iterable[bytes], layout: CsvLayout, segment_size: int, counts: Sequence[int] = ()
) -> tuple[int, list[ScannedSegment]]:
    """Validate every line and cut the manifest into segments of `segment_size` tasks, or, where
    `counts` says, of `counts[i]` tasks for segment i (cut by bytes: cosbatch/operations/sizing.py).

    Streams: memory is one chunk plus the segment list, whatever the manifest size.
    """
    segments: list[ScannedSegment] = []
    total = 0
    seg_start = seg_first = None
    seg_count = 0
    line_no = 0
    last_end = 0
    for start, end, raw in iter_lines(chunks):
        line_no += 1
        last_end = end
        if parse_csv_line(raw, layout, line_no) is None:
            continue
        if seg_start is None:
            seg_start, seg_first = start, line_no
        seg_count += 1
        total += 1
        if seg_count == (counts[len(segments)] if len(segments) < len(counts) else segment_size):
            segments.append(ScannedSegment(seg_start, end, seg_first, seg_count))  # type: ignore[arg-type]
            seg_start = seg_first = None
            seg_count = 0
    if seg_count:
        segments.append(ScannedSegment(seg_start, last_end, seg_first, seg_count))  # type: ignore[arg-type]
    return total, segments


def read_csv_segment(
    chunks: Iterable[bytes], layout: CsvLayout, first_line: int
) -> Iterator[Task]:
    """The tasks of one segment, from the bytes of its range."""
    line_no = first_line - 1
    for _, _, raw in iter_lines(chunks):
        line_no += 1
        task = parse_csv_line(raw, layout, line_no)
        if task is not None:
            yield task

"""Inventory-report manifests (S3InventoryReport_CSV_20161130 / COSInventoryReport_CSV_V1).

The manifest object is the inventory's `manifest.json`; its `files[]` are data
files (CSV.gz, Parquet or ORC per `fileFormat`) in the destination bucket, whose
columns `fileSchema` names. A segment is a row range of one data file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import ManifestError
from cosbatch.manifests.csv_manifest import CsvLayout, Task, parse_csv_line
from cosbatch.models import ManifestField
from cosbatch.names import parse_bucket_name

FORMATS = {"CSV": "inventory-csv-gz", "PARQUET": "inventory-parquet", "ORC": "inventory-orc"}
_COLUMN_ALIASES = {"bucket": ManifestField.BUCKET, "key": ManifestField.KEY, "versionid": ManifestField.VERSION_ID,
                   "version_id": ManifestField.VERSION_ID}


@dataclass(frozen=True)
class InventoryFile:
    bucket: str
    key: str
    format: str  # one of FORMATS' values
    columns: tuple[str, ...]  # CSV: positional names from fileSchema


def _get(client: Any, bucket: str, key: str, what: str) -> bytes:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ManifestError(f"cannot read {what} s3://{bucket}/{key}: {code}", code="ManifestNotFound"
                            if code in ("NoSuchKey", "404", "NoSuchBucket") else "ManifestReadError") from None
    except BotoCoreError as exc:
        raise ManifestError(f"cannot read {what} s3://{bucket}/{key}: {exc}", code="ManifestReadError") from None


def csv_columns(file_schema: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in file_schema.split(","))


def parse_inventory_manifest(data: bytes) -> list[InventoryFile]:
    """manifest.json → its data files; ManifestError if it is not an inventory manifest."""
    try:
        doc = json.loads(data)
        file_format = str(doc["fileFormat"]).upper()
        destination = parse_bucket_name(doc["destinationBucket"]) if str(doc["destinationBucket"]).startswith(
            ("arn:", "qcs:")) else str(doc["destinationBucket"])
        files = doc["files"]
        schema = str(doc.get("fileSchema", "Bucket, Key"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"inventory manifest.json is not valid: {exc}", code="ManifestParseError") from None
    if file_format not in FORMATS:
        raise ManifestError(f"inventory fileFormat {file_format} is not one of CSV, Parquet, ORC",
                            code="ManifestParseError")
    columns = csv_columns(schema) if file_format == "CSV" else ()
    if file_format == "CSV":
        names = {c.lower().replace(" ", "") for c in columns}
        if not {"bucket", "key"} <= names:
            raise ManifestError(f"inventory fileSchema {schema!r} has no Bucket and Key", code="ManifestParseError")
    return [InventoryFile(destination, str(f["key"]), FORMATS[file_format], columns) for f in files]


def _csv_layout(columns: tuple[str, ...]) -> CsvLayout:
    return CsvLayout(tuple(_COLUMN_ALIASES.get(c.lower(), ManifestField.IGNORE) for c in columns))


def _arrow_table(data: bytes, fmt: str) -> Any:
    import pyarrow.orc as orc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data)) if fmt == "inventory-parquet" else orc.ORCFile(io.BytesIO(data)).read()
    except Exception as exc:  # pyarrow raises many kinds for a corrupt file
        raise ManifestError(f"inventory data file is not valid {fmt[10:]}: {exc}", code="ManifestParseError") from None
    names = {n.lower(): n for n in table.column_names}
    if "bucket" not in names or "key" not in names:
        raise ManifestError("inventory data file has no bucket and key columns", code="ManifestParseError")
    return table, names


def read_data_file(client: Any, f: InventoryFile) -> bytes:
    """One data file's bytes, for the functions below that take them (read once, used twice)."""
    return _get(client, f.bucket, f.key, "inventory data file")


def _csv_text(f: InventoryFile, data: bytes) -> bytes:
    """A CSV data file's text: gunzipped where it is gzip (by its name or its magic bytes)."""
    try:
        return gzip.decompress(data) if f.key.endswith(".gz") or data[:2] == b"\x1f\x8b" else data
    except OSError as exc:
        raise ManifestError(f"inventory data file {f.key} is not valid gzip: {exc}",
                            code="ManifestParseError") from None


def read_inventory_tasks(client: Any, f: InventoryFile, start: int = 0, end: int | None = None,
                         data: bytes | None = None) -> Iterator[Task]:
    """The tasks of rows [start, end) of one data file (`data`: its bytes, if read already)."""
    data = read_data_file(client, f) if data is None else data
    if f.format == "inventory-csv-gz":
        text = _csv_text(f, data)
        layout = _csv_layout(f.columns)
        row = 0
        for line_no, raw in enumerate(io.BytesIO(text), start=1):
            if row >= (end if end is not None else 1 << 62):
                return
            task = _inventory_csv_line(raw, layout, line_no, f.key)
            if task is None:
                continue
            if row >= start:
                yield task
            row += 1
        return
    table, names = _arrow_table(data, f.format)
    sliced = table.slice(start, None if end is None else end - start)
    version_col = names.get("version_id") or names.get("versionid")
    buckets = sliced.column(names["bucket"]).to_pylist()
    keys = sliced.column(names["key"]).to_pylist()
    versions = sliced.column(version_col).to_pylist() if version_col else [None] * len(keys)
    for b, k, v in zip(buckets, keys, versions, strict=True):
        if not b or not k:
            raise ManifestError(f"inventory data file {f.key}: a row has no bucket or key", code="ManifestParseError")
        yield Task(b, k, v or None)


def _inventory_csv_line(raw: bytes, layout: CsvLayout, line_no: int, name: str) -> Task | None:
    # Inventory CSV quotes every field: parse with the csv module, then decode like a manifest line.
    text = raw.decode("utf-8", errors="strict").rstrip("\r\n") if raw.strip() else ""
    if not text:
        return None
    cells = next(csv.reader([text]))
    try:
        return parse_csv_line(",".join(_requote(c) for c in cells).encode(), layout, line_no)
    except ManifestError as exc:
        raise ManifestError(f"inventory data file {name}: {exc.message}", code=exc.code) from None


_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _requote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell


def count_rows(client: Any, f: InventoryFile, data: bytes | None = None) -> int:
    """Rows of a data file, every one validated (a bad row fails Preparing, not the run)."""
    return sum(1 for _ in read_inventory_tasks(client, f, data=data))


def load_inventory(client: Any, manifest_bucket: str, manifest_key: str) -> list[InventoryFile]:
    return parse_inventory_manifest(_get(client, manifest_bucket, manifest_key, "inventory manifest"))


__all__ = ["InventoryFile", "count_rows", "load_inventory", "parse_inventory_manifest", "read_data_file",
           "read_inventory_tasks"]


def inventory_sizes(client: Any, f: InventoryFile, start: int = 0, end: int | None = None,
                    data: bytes | None = None) -> list[int] | None:
    """The Size column of rows [start, end) of one data file, or None if its schema has no Size
    (estimates: an inventory gives every object's size, so bytes are exact); `data`: its bytes,
    if read already."""
    lowered = [c.lower() for c in f.columns]
    if f.format == "inventory-csv-gz" and "size" not in lowered:
        return None
    data = read_data_file(client, f) if data is None else data
    if f.format == "inventory-csv-gz":
        at = lowered.index("size")
        text = _csv_text(f, data)
        rows = [cells for cells in csv.reader(io.StringIO(text.decode())) if cells]
        return [int(cells[at] or 0) for cells in rows[start:end]]
    table, names = _arrow_table(data, f.format)
    if "size" not in names:
        return None
    sliced = table.slice(start, None if end is None else end - start)
    return [int(v or 0) for v in sliced.column(names["size"]).to_pylist()]

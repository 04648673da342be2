"""CreateJob bodies from plain Python values, with the CLI's defaults.

Full S3/COS dict shapes pass through unchanged; the shorthands (a manifest URL or
a list of objects, a report URL) expand to those shapes. The result goes through
`cosbatch.wire.dialects.parse_create_job`, like every other way into cosbatch.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from cosbatch.errors import InvalidRequest
from cosbatch.names import parse_bucket_name, parse_object_name

DEFAULT_ACCOUNT = "000000000000"
CSV_FORMAT = "S3BatchOperations_CSV_20180820"
REPORT_FORMAT = "Report_CSV_20180820"

#: A manifest as given to Client.create_job: a JobManifest dict, a URL/ARN/path of a
#: CSV manifest, or the objects themselves ("s3://bucket/key" strings or (bucket, key) pairs).
ManifestArg = dict[str, Any] | str | Path | Sequence[str | tuple[str, str]]


def default_account() -> str:
    return os.environ.get("COSBATCH_ACCOUNT_ID", DEFAULT_ACCOUNT)


def _object_pairs(objects: Iterable[str | tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for item in objects:
        if isinstance(item, str):
            ref = parse_object_name(item)
            if ref.is_local:
                raise InvalidRequest(f"manifest entry {item!r} is not an object; use s3://bucket/key")
            pairs.append((ref.bucket, ref.key))
        elif isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            bucket, key = item
            pairs.append((parse_bucket_name(f"s3://{bucket}"), key))
        else:
            raise InvalidRequest(f"manifest entry {item!r}: give 's3://bucket/key' or a (bucket, key) pair of strings")
    if not pairs:
        raise InvalidRequest("the manifest lists no objects")
    return pairs


def write_local_manifest(objects: Iterable[str | tuple[str, str]], directory: Path) -> Path:
    """A CSV manifest (Bucket, Key; keys URL-encoded) of these objects, in a new file."""
    lines = [f"{b},{quote_plus(k, safe='/')}\n" for b, k in _object_pairs(objects)]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"manifest-{uuid.uuid4().hex}.csv"
    path.write_text("".join(lines))
    return path


def manifest_body(manifest: ManifestArg, fields: Sequence[str], manifest_dir: Path) -> dict[str, Any]:
    """The JobManifest for any accepted form of `manifest`."""
    if isinstance(manifest, dict):
        return manifest
    if isinstance(manifest, Path):
        location = f"file://{manifest.absolute()}"
    elif isinstance(manifest, str):
        location = manifest
        parse_object_name(location)  # refused now if it names nothing a job can read
    elif not isinstance(manifest, Sequence):
        raise InvalidRequest(f"manifest: give a JobManifest dict, the path, s3:// URL or ARN of a CSV manifest, "
                             f"or a list of objects; not {type(manifest).__name__}")
    else:
        location = f"file://{write_local_manifest(manifest, manifest_dir)}"
        fields = ("Bucket", "Key")
    return {"Spec": {"Format": CSV_FORMAT, "Fields": list(fields)}, "Location": {"ObjectArn": location}}


def report_body(report: dict[str, Any] | str | None) -> dict[str, Any]:
    """A JobReport: None disables it; "s3://bucket/prefix" reports every task there as CSV;
    a dict is the S3/COS shape, with Enabled, Format and ReportScope filled in if missing."""
    if report is None:
        return {"Enabled": False}
    if not isinstance(report, dict | str):
        raise InvalidRequest(f"report: give s3://bucket[/prefix], a JobReport dict or None; not {type(report).__name__}")
    if isinstance(report, str):
        if not report.startswith("s3://"):
            raise InvalidRequest(f"report {report!r}: give s3://bucket[/prefix] or a JobReport dict")
        bucket, _, prefix = report[5:].partition("/")
        body: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{parse_bucket_name('s3://' + bucket)}"}
        if prefix.strip("/"):
            body["Prefix"] = prefix.strip("/")
        report = body
    body = dict(report)
    body.setdefault("Enabled", "Bucket" in body)
    if body["Enabled"]:
        body.setdefault("Format", REPORT_FORMAT)
        body.setdefault("ReportScope", "AllTasks")
    return body


def fill_defaults(body: dict[str, Any], account_id: str | None) -> dict[str, Any]:
    """AccountId, ClientRequestToken, RoleArn and Priority as the CLI would set them."""
    out = dict(body)
    out.setdefault("AccountId", account_id or default_account())
    out.setdefault("ClientRequestToken", str(uuid.uuid4()))
    out.setdefault("RoleArn", f"arn:aws:iam::{out['AccountId']}:role/cosbatch")
    out.setdefault("Priority", 10)
    return out

"""Resource names of both dialects, parsed to plain bucket/key references.

S3:  arn:aws:s3:::bucket/key, arn:aws:s3:::bucket (a copy's target also arn:aws:s3:<region>::bucket)
COS: qcs::cos:<region>::<bucket>/<key>, qcs::cos:<region>:uid/<appid>:<bucket>
cosbatch also accepts s3://bucket/key and local files (file:///abs/path or a path)
for manifests, which the CLI and notebooks use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cosbatch.errors import InvalidRequest

_S3_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:s3:::(?P<rest>.+)$")
_COS_QCS = re.compile(r"^qcs::cos:(?P<region>[^:]*):(?P<owner>[^:]*):(?P<rest>.+)$")
_S3_REGIONAL_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:s3:(?P<region>[a-z0-9-]+)::(?P<rest>[^/]+)$")
_BUCKET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$")


@dataclass(frozen=True)
class ObjectRef:
    """An object in a bucket, or (bucket empty) a file on the local disk."""

    bucket: str
    key: str
    local_path: str | None = None

    @property
    def is_local(self) -> bool:
        return self.local_path is not None

    def __str__(self) -> str:
        return self.local_path if self.local_path else f"s3://{self.bucket}/{self.key}"


def _check_bucket(bucket: str, name: str) -> str:
    if not _BUCKET.match(bucket):
        raise InvalidRequest(f"invalid bucket name {bucket!r} in {name!r}")
    return bucket


def parse_bucket_name(name: str) -> str:
    """Bucket of a bucket ARN/QCS name (`arn:aws:s3:::b`, `qcs::cos:r:uid/1:b`, `s3://b`)."""
    name = name.strip()
    if (m := _S3_ARN.match(name)) or (m := _COS_QCS.match(name)):
        rest = m["rest"]
    elif name.startswith("s3://"):
        rest = name[5:].rstrip("/")
    else:
        raise InvalidRequest(
            f"invalid bucket name {name!r}: expected arn:aws:s3:::<bucket> or qcs::cos:<region>:uid/<appid>:<bucket>"
        )
    if "/" in rest:
        raise InvalidRequest(f"invalid bucket name {name!r}: a bucket name has no '/'")
    return _check_bucket(rest, name)


def parse_object_name(name: str) -> ObjectRef:
    """Object of an object ARN/QCS name, an s3:// URL, or a local file."""
    name = name.strip()
    rest: str | None = None
    if (m := _S3_ARN.match(name)) or (m := _COS_QCS.match(name)):
        rest = m["rest"]
    elif name.startswith("s3://"):
        rest = name[5:]
    elif name.startswith("file://"):
        return ObjectRef("", "", local_path=name[7:])
    elif re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", name):  # http://... is no local path
        raise InvalidRequest(f"invalid object name {name!r}: {name.split('://', 1)[0]}:// is not read; use "
                             "s3://<bucket>/<key>, file://<path> or an object ARN")
    elif name.startswith("/") or name.startswith("./") or Path(name).suffix in {".csv", ".json"}:
        return ObjectRef("", "", local_path=str(Path(name).absolute()))
    if rest is None or "/" not in rest:
        raise InvalidRequest(
            f"invalid object name {name!r}: expected arn:aws:s3:::<bucket>/<key> or qcs::cos:<region>::<bucket>/<key>"
        )
    bucket, key = rest.split("/", 1)
    if not key:
        raise InvalidRequest(f"invalid object name {name!r}: the key is empty")
    return ObjectRef(_check_bucket(bucket, name), key)


def parse_target_resource(name: str) -> tuple[str | None, str]:
    """(region, bucket) of a copy's TargetResource. The region names the target storage:
    `arn:aws:s3:<region>::<bucket>` or `qcs::cos:<region>:uid/<appid>:<bucket>`; plain
    `arn:aws:s3:::<bucket>` (region None) means the job's own storage."""
    stripped = name.strip()
    if m := _S3_REGIONAL_ARN.match(stripped):
        return m["region"], _check_bucket(m["rest"], name)
    m = _COS_QCS.match(stripped)
    return (m["region"] or None) if m else None, parse_bucket_name(name)

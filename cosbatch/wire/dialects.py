"""COS and S3 request shapes → one CreateJobRequest.

COS names its operations `COS<Name>` where S3 says `S3<Name>`, and writes
resource names as `qcs::cos:...`; the rest of the shape is the same. The
dialect is kept on the job so answers can be rendered in it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cosbatch.errors import InvalidRequest, MalformedRequest, UnsupportedField
from cosbatch.models import CreateJobRequest, Dialect, JobOperation
from cosbatch.models.base import UNSUPPORTED

#: COS operation element → the S3 element with the same parameters.
COS_OPERATIONS = {
    "COSPutObjectCopy": "S3PutObjectCopy",
    "COSInitiateRestoreObject": "S3InitiateRestoreObject",
    "COSPutObjectTagging": "S3PutObjectTagging",
    "COSDeleteObjectTagging": "S3DeleteObjectTagging",
    "COSPutObjectAcl": "S3PutObjectAcl",
    "COSDeleteObject": "S3DeleteObject",
    "COSPutObjectRetention": "S3PutObjectRetention",
    "COSPutObjectLegalHold": "S3PutObjectLegalHold",
}
S3_TO_COS_OPERATIONS = {v: k for k, v in COS_OPERATIONS.items()}


def detect_dialect(body: dict[str, Any]) -> Dialect:
    op = body.get("Operation") or {}
    if isinstance(op, dict) and any(k in COS_OPERATIONS for k in op):
        return Dialect.COS
    manifest = body.get("Manifest") or {}
    loc = ((manifest if isinstance(manifest, dict) else {}).get("Location") or {}).get("ObjectArn", "")
    return Dialect.COS if isinstance(loc, str) and loc.startswith("qcs::") else Dialect.S3


def normalise_operation(op: Any) -> Any:
    """COS operation names → S3's; InvalidRequest listing the valid names for an unknown one."""
    if not isinstance(op, dict):
        return op
    out = {COS_OPERATIONS.get(k, k): v for k, v in op.items()}
    valid = [f.alias for f in JobOperation.model_fields.values() if f.alias]
    unknown = [k for k in out if k not in valid]
    if unknown:
        raise UnsupportedField(f"unknown operation {', '.join(map(repr, unknown))}; valid operations: "
                             f"{', '.join(valid)} (COS: {', '.join(COS_OPERATIONS)})")
    return out


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as one line a user can act on."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "request"
        message = "not supported by cosbatch (not a field of this shape)" if err["type"] == "extra_forbidden" \
            else err["msg"].removeprefix("Value error, ")  # our own validators' words, without pydantic's
        parts.append(f"{where}: {message}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


def parse_create_job(body: dict[str, Any], dialect: Dialect | None = None) -> CreateJobRequest:
    """A CreateJob body of either dialect → the validated request (InvalidRequest if not valid).

    The dialect is detected from the body unless the caller knows it (the HTTP API does).
    """
    if not isinstance(body, dict):
        raise MalformedRequest("CreateJob request must be an object")
    dialect = dialect or detect_dialect(body)
    data = dict(body)
    if "Operation" in data:
        data["Operation"] = normalise_operation(data["Operation"])
    data["Dialect"] = dialect.value
    try:
        return CreateJobRequest.model_validate(data)
    except ValidationError as exc:
        if any(err["type"] in (UNSUPPORTED, "extra_forbidden") for err in exc.errors()):
            raise UnsupportedField(validation_message(exc)) from None
        raise InvalidRequest(validation_message(exc)) from None

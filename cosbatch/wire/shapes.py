"""The XML shapes of both dialects, taken from botocore's S3 Control model.

S3 Control's element names, list member names and types come straight from the
model stock boto3 uses (`botocore/data/s3control/2018-08-20/service-2.json`), so
what we answer is what boto3 parses. cosbatch's extensions (DryRun, S3DeleteObject,
Invoke) and COS's differences are laid over it here and nowhere else:

- COS names operations `COS<Name>` (same parameters as `S3<Name>`), lists job
  failures as `<JobFailure>` and copy grants as `<COSGrant>`, writes user metadata
  as `<member><Key/><Value/></member>`, and adds PrefixReplace / ResourcesPrefix /
  TaggingDirective / AccessControlDirective to the copy operation.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from botocore.loaders import Loader

from cosbatch.models import Dialect
from cosbatch.wire.dialects import COS_OPERATIONS

S3_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"

Shapes = dict[str, dict[str, Any]]


def _member(shape: str, **extra: Any) -> dict[str, Any]:
    return {"shape": shape, **extra}


def _cosbatch_extensions(shapes: Shapes) -> None:
    shapes["DryRun"] = {"type": "boolean"}
    shapes["CreateJobRequest"]["members"]["DryRun"] = _member("DryRun")
    shapes["JobDescriptor"]["members"]["DryRun"] = _member("DryRun")
    shapes["S3DeleteObjectOperation"] = {"type": "structure", "members": {}}
    shapes["InvokeUserArguments"] = {
        "type": "map", "key": {"shape": "NonEmptyMaxLength64String"}, "value": {"shape": "MaxLength1024String"},
    }
    shapes["InvokeOperation"] = {
        "type": "structure",
        "members": {"Function": _member("NonEmptyMaxLength1024String"), "UserArguments": _member("InvokeUserArguments")},
    }
    ops = shapes["JobOperation"]["members"]
    ops["S3DeleteObject"] = _member("S3DeleteObjectOperation")
    ops["Invoke"] = _member("InvokeOperation")
    copy_members = shapes["S3CopyObjectOperation"]["members"]
    for name, shape in (("PrefixReplace", "Boolean"), ("ResourcesPrefix", "NonEmptyMaxLength1024String"),
                        ("TaggingDirective", "NonEmptyMaxLength1024String"),
                        ("AccessControlDirective", "NonEmptyMaxLength1024String")):
        copy_members[name] = _member(shape)
    shapes["S3InitiateRestoreObjectOperation"]["members"]["JobTier"] = _member("NonEmptyMaxLength64String")
    shapes.setdefault("NonEmptyMaxLength64String", {"type": "string"})
    shapes.setdefault("MaxLength1024String", {"type": "string"})
    shapes.setdefault("NonEmptyMaxLength1024String", {"type": "string"})


def _cos_differences(shapes: Shapes) -> None:
    ops = shapes["JobOperation"]["members"]
    for cos_name, s3_name in COS_OPERATIONS.items():
        ops[cos_name] = copy.deepcopy(ops[s3_name])
        del ops[s3_name]
    shapes["JobFailureList"]["member"] = _member("JobFailure", locationName="JobFailure")
    shapes["COSGrantList"] = {"type": "list", "member": _member("S3Grant", locationName="COSGrant")}
    shapes["S3CopyObjectOperation"]["members"]["AccessControlGrants"] = _member("COSGrantList")
    # COS writes maps as <member><Key/><Value/></member> (cosbatch's own `entryName`).
    shapes["S3UserMetadata"] = {**shapes["S3UserMetadata"], "entryName": "member",
                                "key": {"shape": "NonEmptyMaxLength1024String", "locationName": "Key"},
                                "value": {"shape": "MaxLength1024String", "locationName": "Value"}}


@cache
def shapes_for(dialect: Dialect) -> Shapes:
    """The shape table of one dialect (built once)."""
    model = Loader().load_service_model("s3control", "service-2")
    shapes: Shapes = copy.deepcopy(model["shapes"])
    _cosbatch_extensions(shapes)
    if dialect is Dialect.COS:
        _cos_differences(shapes)
    return shapes


def namespace_for(dialect: Dialect) -> str | None:
    return S3_NAMESPACE if dialect is Dialect.S3 else None

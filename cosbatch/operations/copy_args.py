"""The CopyObject arguments a copy's parameters ask for: the same for every object of the job
(copy_object_args), plus those that depend on the source object (source_args: COS's Add and
Copy directives).

Single copies send them as they are; multipart and cross-storage copies turn them into the
headers of the new object (cosbatch/operations/transfer.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from cosbatch.manifests import Task
from cosbatch.models import MetadataDirective, PutObjectCopy

_GRANT_ARGS = {"FULL_CONTROL": "GrantFullControl", "READ": "GrantRead", "READ_ACP": "GrantReadACP",
               "WRITE_ACP": "GrantWriteACP"}
_SSE = {"AES256": "AES256", "KMS": "aws:kms"}
#: The arguments that set how the new object is encrypted, checksummed and locked.
ENCRYPTION_AND_LOCK_ARGS = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled", "ChecksumAlgorithm",
                            "ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")


def _encryption_and_lock_args(p: PutObjectCopy) -> dict[str, Any]:
    sse = p.new_object_metadata.sse_algorithm if p.new_object_metadata else None
    values = (_SSE[sse] if sse else None, p.sse_aws_kms_key_id, p.bucket_key_enabled, p.checksum_algorithm,
              p.object_lock_mode, p.object_lock_retain_until_date, p.object_lock_legal_hold_status)
    return {arg: value for arg, value in zip(ENCRYPTION_AND_LOCK_ARGS, values, strict=True) if value is not None}


def tags_added(source: Iterable[tuple[str, str]], p: PutObjectCopy) -> str:
    """COS TaggingDirective Add: the source's tags with NewObjectTagging's added (a key both
    have takes the new value), as the x-amz-tagging header."""
    tags = dict(source)
    tags.update((t.key, t.value) for t in p.new_object_tagging or [])
    return urlencode(list(tags.items()))


def grant_args(grants: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """(permission, grantee kind: id | uri | emailAddress, identifier) grants as x-amz-grant-*
    arguments; a permission an object cannot have (WRITE) is left out."""
    args: dict[str, str] = {}
    for permission, kind, identifier in grants:
        arg = _GRANT_ARGS.get(permission)
        if arg is not None:
            value = f'{kind}="{identifier}"'
            args[arg] = f"{args[arg]}, {value}" if arg in args else value
    return args


def _given_grants(p: PutObjectCopy) -> list[tuple[str, str, str]]:
    return [(g.permission, g.grantee.type_identifier or "id", g.grantee.identifier or "")
            for g in p.access_control_grants or []]


def source_args(client: Any, task: Task, p: PutObjectCopy, tagged: bool = True) -> dict[str, str]:
    """The arguments that depend on the source object (lean client calls): COS TaggingDirective
    Add (its tags plus NewObjectTagging; `tagged`: whether it has any) and AccessControlDirective
    Copy / Add (its grants, plus AccessControlGrants for Add)."""
    args: dict[str, str] = {}
    if p.tagging_directive_value == "add":
        tags = client.get_object_tagging(task.bucket, task.key, task.version_id) if tagged else []
        args["Tagging"] = tags_added(tags, p)
    acl = p.access_control_directive_value
    if acl in ("copy", "add"):
        grants = client.get_object_acl(task.bucket, task.key, task.version_id)
        args.update(grant_args([*grants, *(_given_grants(p) if acl == "add" else [])]))
    return args


def copy_object_args(p: PutObjectCopy) -> dict[str, Any]:
    """The CopyObject arguments that are the same for every object (boto3 names); the one place
    that maps a copy's parameters (with source_args for those that depend on the source)."""
    args: dict[str, Any] = _encryption_and_lock_args(p)
    if p.storage_class is not None:
        args["StorageClass"] = p.storage_class.value
    if p.canned_access_control_list:
        args["ACL"] = p.canned_access_control_list
    if p.access_control_directive_value not in ("copy", "add"):  # else: with the source's (source_args)
        args.update(grant_args(_given_grants(p)))
    if p.modified_since_constraint is not None:
        args["CopySourceIfModifiedSince"] = p.modified_since_constraint
    if p.un_modified_since_constraint is not None:
        args["CopySourceIfUnmodifiedSince"] = p.un_modified_since_constraint
    headers_given = p.new_object_metadata is not None and (
        p.new_object_metadata.model_fields_set != {"sse_algorithm"})  # SSE alone keeps the metadata
    if p.metadata_directive is MetadataDirective.REPLACE or headers_given:
        args["MetadataDirective"] = "REPLACE"
        md = p.new_object_metadata
        if md is not None:
            if md.user_metadata:
                args["Metadata"] = dict(md.user_metadata)
            for field, arg in (
                ("cache_control", "CacheControl"),
                ("content_disposition", "ContentDisposition"),
                ("content_encoding", "ContentEncoding"),
                ("content_language", "ContentLanguage"),
                ("content_type", "ContentType"),
                ("http_expires_date", "Expires"),
            ):
                value = getattr(md, field)
                if value is not None:
                    args[arg] = value
    if p.new_object_tagging is not None or p.tagging_directive_value == "replaced":
        args["TaggingDirective"] = "REPLACE"  # COS TaggingDirective Replaced without tags: none
        if p.new_object_tagging:
            args["Tagging"] = urlencode([(t.key, t.value) for t in p.new_object_tagging])
    return args

"""The CopyObject arguments a copy's parameters ask for: the same for every object of the job.

Single copies send them as they are; multipart and cross-storage copies turn them into the
headers of the new object (cosbatch/operations/transfer.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cosbatch.models import MetadataDirective, PutObjectCopy

_GRANT_ARGS = {"FULL_CONTROL": "GrantFullControl", "READ": "GrantRead", "READ_ACP": "GrantReadACP",
               "WRITE_ACP": "GrantWriteACP"}


def copy_object_args(p: PutObjectCopy) -> dict[str, Any]:
    """The CopyObject arguments that are the same for every object."""
    args: dict[str, Any] = {}
    if p.storage_class is not None:
        args["StorageClass"] = p.storage_class.value
    if p.canned_access_control_list:
        args["ACL"] = p.canned_access_control_list
    for grant in p.access_control_grants or []:
        arg = _GRANT_ARGS.get(grant.permission)
        if arg is None:
            continue
        kind = grant.grantee.type_identifier or "id"
        value = f'{kind}="{grant.grantee.identifier}"'
        args[arg] = f"{args[arg]}, {value}" if arg in args else value
    if p.modified_since_constraint is not None:
        args["CopySourceIfModifiedSince"] = p.modified_since_constraint
    if p.un_modified_since_constraint is not None:
        args["CopySourceIfUnmodifiedSince"] = p.un_modified_since_constraint
    if p.metadata_directive is MetadataDirective.REPLACE or p.new_object_metadata is not None:
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
    if p.new_object_tagging is not None:
        args["TaggingDirective"] = "REPLACE"
        args["Tagging"] = urlencode([(t.key, t.value) for t in p.new_object_tagging])
    return args

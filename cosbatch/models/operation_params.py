"""Parameter models of the batch operations, one per XML element of the S3/COS API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from cosbatch.models.base import WireModel
from cosbatch.names import parse_bucket_name


class MetadataDirective(StrEnum):
    COPY = "COPY"
    REPLACE = "REPLACE"


class StorageClass(StrEnum):
    STANDARD = "STANDARD"
    STANDARD_IA = "STANDARD_IA"
    ONEZONE_IA = "ONEZONE_IA"
    GLACIER = "GLACIER"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"
    GLACIER_IR = "GLACIER_IR"
    # COS storage classes
    MAZ_STANDARD = "MAZ_STANDARD"
    MAZ_STANDARD_IA = "MAZ_STANDARD_IA"
    ARCHIVE = "ARCHIVE"
    DEEP_ARCHIVE_COS = "DEEP ARCHIVE"


class Tag(WireModel):
    key: Annotated[str, Field(min_length=1, max_length=128)]
    value: Annotated[str, Field(max_length=256)]


class ObjectMetadata(WireModel):
    """S3ObjectMetadata: system headers plus user metadata (x-amz-meta-*)."""

    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    user_metadata: dict[str, str] | None = None
    content_length: int | None = None
    content_md5: str | None = Field(default=None, alias="ContentMD5")
    content_type: str | None = None
    http_expires_date: datetime | None = None
    requester_charged: bool | None = None
    sse_algorithm: str | None = Field(default=None, alias="SSEAlgorithm")


class PutObjectCopy(WireModel):
    """S3PutObjectCopy / COSPutObjectCopy: copy each object into a target bucket."""

    target_resource: Annotated[str, Field(min_length=1, max_length=128)]
    target_key_prefix: Annotated[str | None, Field(min_length=1, max_length=1024)] = None
    storage_class: StorageClass | None = None
    metadata_directive: MetadataDirective | None = None
    new_object_metadata: ObjectMetadata | None = None
    new_object_tagging: list[Tag] | None = None
    canned_access_control_list: str | None = None
    modified_since_constraint: datetime | None = None
    un_modified_since_constraint: datetime | None = Field(default=None, alias="UnModifiedSinceConstraint")
    # COS only: replace ResourcesPrefix at the start of the source key by TargetKeyPrefix.
    prefix_replace: bool | None = None
    resources_prefix: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PutObjectCopy:
        parse_bucket_name(self.target_resource)
        if self.prefix_replace and self.resources_prefix is None:
            raise ValueError("PrefixReplace=true needs ResourcesPrefix")
        return self

    @property
    def target_bucket(self) -> str:
        return parse_bucket_name(self.target_resource)

    def target_key(self, source_key: str) -> str:
        """Destination key: COS prefix replacement, else the key under the TargetKeyPrefix folder."""
        prefix = self.target_key_prefix or ""
        if self.prefix_replace and self.resources_prefix is not None:
            if source_key.startswith(self.resources_prefix):
                return prefix + source_key[len(self.resources_prefix):]
            return source_key
        # S3: TargetKeyPrefix names a folder ("Folder1" copies "a.txt" to "Folder1/a.txt").
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return prefix + source_key

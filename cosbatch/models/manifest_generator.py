"""JobManifestGenerator: build the manifest from a bucket listing instead of handing one in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from cosbatch.models.base import WireModel, unsupported
from cosbatch.names import parse_bucket_name


class KeyNameConstraint(WireModel):
    match_any_prefix: list[str] | None = None
    match_any_suffix: list[str] | None = None
    match_any_substring: list[str] | None = None
    match_regex: str | None = None  # cosbatch: a Python regex the whole key must match

    @field_validator("match_regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            import re

            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"MatchRegex is not a valid regular expression: {exc}") from None
        return v


class GeneratorFilter(WireModel):
    eligible_for_replication: bool | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    object_replication_statuses: list[str] | None = None
    key_name_constraint: KeyNameConstraint | None = None
    storage_classes: list[str] | None = Field(default=None, alias="MatchAnyStorageClass")
    object_size_greater_than_bytes: Annotated[int | None, Field(ge=0)] = None
    object_size_less_than_bytes: Annotated[int | None, Field(ge=0)] = None

    unsupported_fields: ClassVar[dict[str, str]] = {
        "eligible_for_replication": "cosbatch storage has no replication rules",
        "object_replication_statuses": "cosbatch does not read objects' replication status",
    }


def _valid_bucket_name(v: str) -> str:
    parse_bucket_name(v)
    return v


#: A bucket ARN / QCS name, checked when parsed.
BucketName = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_valid_bucket_name)]


class ManifestOutputLocation(WireModel):
    expected_manifest_bucket_owner: str | None = None
    bucket: BucketName
    manifest_prefix: str | None = None
    manifest_encryption: dict | None = None
    manifest_format: Literal["S3InventoryReport_CSV_20211130"] = "S3InventoryReport_CSV_20211130"

    unsupported_fields: ClassVar[dict[str, str]] = {
        "expected_manifest_bucket_owner": "cosbatch storage has no bucket owner accounts to check",
        "manifest_encryption": "the generated manifest is written unencrypted",
    }


class S3JobManifestGenerator(WireModel):
    expected_bucket_owner: str | None = None
    source_bucket: BucketName
    manifest_output_location: ManifestOutputLocation | None = None
    filter: GeneratorFilter | None = None
    enable_manifest_output: bool = True

    unsupported_fields: ClassVar[dict[str, str]] = {
        "expected_bucket_owner": "cosbatch storage has no bucket owner accounts to check",
    }

    @model_validator(mode="after")
    def _manifest_output(self) -> S3JobManifestGenerator:
        # EnableManifestOutput=false: the job still runs from a working copy next to its report
        # (a resumed job re-reads it); the scheduler deletes that copy when the job ends.
        if not self.enable_manifest_output and self.manifest_output_location is not None:
            raise unsupported("ManifestOutputLocation is given with EnableManifestOutput=false: "
                              "set EnableManifestOutput=true to keep the generated manifest there")
        return self


class ManifestGenerator(WireModel):
    s3_job_manifest_generator: S3JobManifestGenerator = Field(alias="S3JobManifestGenerator")

"""Parameter models of the batch operations, one per XML element of the S3/COS API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from cosbatch.models.base import WireModel, unsupported
from cosbatch.names import parse_target_resource


class MetadataDirective(StrEnum):
    """S3 writes COPY / REPLACE; COS writes Copy / Replaced. Both spellings are accepted."""

    COPY = "COPY"
    REPLACE = "REPLACE"

    @classmethod
    def _missing_(cls, value: object) -> MetadataDirective | None:
        spelled = {"copy": cls.COPY, "replace": cls.REPLACE, "replaced": cls.REPLACE}
        return spelled.get(value.lower()) if isinstance(value, str) else None


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
    sse_algorithm: Literal["AES256", "KMS"] | None = Field(default=None, alias="SSEAlgorithm")

    unsupported_fields: ClassVar[dict[str, str]] = {
        "content_length": "the copy's length is the source object's",
        "content_md5": "the copy's MD5 is the source object's",
        "requester_charged": "cosbatch storage has no requester-pays billing",
    }


class Grantee(WireModel):
    type_identifier: str | None = None  # id | emailAddress | uri
    identifier: str | None = None
    display_name: str | None = None


class Grant(WireModel):
    grantee: Grantee
    permission: str  # FULL_CONTROL | READ | WRITE | READ_ACP | WRITE_ACP


#: Grant permissions a copy can set (x-amz-grant-*); S3 objects have no WRITE permission.
COPY_GRANT_PERMISSIONS = ("FULL_CONTROL", "READ", "READ_ACP", "WRITE_ACP")
#: COS's TaggingDirective values cosbatch implements (lower case; COS writes Copy / Replaced / Add).
TAGGING_DIRECTIVES = ("copy", "replaced", "add")


class PutObjectCopy(WireModel):
    """S3PutObjectCopy / COSPutObjectCopy: copy each object into a target bucket."""

    target_resource: Annotated[str, Field(min_length=1, max_length=128)]
    target_key_prefix: Annotated[str | None, Field(min_length=1, max_length=1024)] = None
    storage_class: StorageClass | None = None
    metadata_directive: MetadataDirective | None = None
    new_object_metadata: ObjectMetadata | None = None
    new_object_tagging: list[Tag] | None = None
    canned_access_control_list: str | None = None
    access_control_grants: list[Grant] | None = None
    modified_since_constraint: datetime | None = None
    un_modified_since_constraint: datetime | None = Field(default=None, alias="UnModifiedSinceConstraint")
    sse_aws_kms_key_id: Annotated[str | None, Field(min_length=1, max_length=2000, alias="SSEAwsKmsKeyId")] = None
    bucket_key_enabled: bool | None = None
    checksum_algorithm: Literal["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"] | None = None
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] | None = None
    object_lock_retain_until_date: datetime | None = None
    object_lock_legal_hold_status: Literal["ON", "OFF"] | None = None
    # COS only: replace ResourcesPrefix at the start of the source key by TargetKeyPrefix;
    # COS also states the tagging and ACL directives explicitly (Copy | Replace).
    prefix_replace: bool | None = None
    resources_prefix: str | None = None
    tagging_directive: str | None = None
    access_control_directive: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PutObjectCopy:
        parse_target_resource(self.target_resource)
        if self.prefix_replace and self.resources_prefix is None:
            raise ValueError("PrefixReplace=true needs ResourcesPrefix")
        for grant in self.access_control_grants or []:
            if grant.grantee.display_name is not None:
                raise unsupported("AccessControlGrants Grantee.DisplayName is not supported on a copy: "
                                  "x-amz-grant-* headers carry no display name")
            if grant.permission not in COPY_GRANT_PERMISSIONS:
                raise ValueError(f"AccessControlGrants Permission {grant.permission!r} is not one of "
                                 f"{', '.join(COPY_GRANT_PERMISSIONS)}")
        self._check_directives()
        sse = self.new_object_metadata.sse_algorithm if self.new_object_metadata else None
        if (self.sse_aws_kms_key_id is not None or self.bucket_key_enabled is not None) and sse != "KMS":
            raise ValueError("SSEAwsKmsKeyId and BucketKeyEnabled need NewObjectMetadata.SSEAlgorithm KMS")
        if (self.object_lock_mode is None) != (self.object_lock_retain_until_date is None):
            raise ValueError("ObjectLockMode and ObjectLockRetainUntilDate go together")
        if self.object_lock_retain_until_date is not None and self.object_lock_retain_until_date.tzinfo is None:
            raise ValueError("ObjectLockRetainUntilDate needs a time zone, e.g. 2030-01-01T00:00:00Z")
        return self

    def _check_directives(self) -> None:
        """COS's TaggingDirective / AccessControlDirective. Tags: Copy keeps the source's (CopyObject's
        default), Replaced sets NewObjectTagging (none without it), Add merges NewObjectTagging into
        the source's. ACL: Copy gives the copy the source's grants, Replaced the given ACL (the
        storage's default without one), Add the source's grants plus AccessControlGrants."""
        tagging = self.tagging_directive_value
        if tagging is not None and tagging not in TAGGING_DIRECTIVES:
            raise unsupported(f"TaggingDirective {self.tagging_directive!r} is not supported (Copy, Replaced or Add)")
        if tagging == "copy" and self.new_object_tagging is not None:
            raise ValueError("TaggingDirective Copy keeps the source's tags: drop NewObjectTagging or use Replaced")
        if tagging == "add" and not self.new_object_tagging:
            raise ValueError("TaggingDirective Add needs NewObjectTagging, the tags to add")
        acl = self.access_control_directive_value
        if acl is not None and acl not in ("copy", "replaced", "add"):
            raise unsupported(f"AccessControlDirective {self.access_control_directive!r} is not supported "
                              "(Copy, Replaced or Add)")
        if acl == "copy" and (self.access_control_grants or self.canned_access_control_list):
            raise ValueError("AccessControlDirective Copy keeps the source's ACL: drop AccessControlGrants and "
                             "CannedAccessControlList, or use Replaced / Add")
        if acl == "add" and self.canned_access_control_list:
            raise ValueError("AccessControlDirective Add adds AccessControlGrants to the source's ACL; a "
                             "CannedAccessControlList cannot be added to it (use Replaced)")

    @property
    def access_control_directive_value(self) -> str | None:
        """COS's AccessControlDirective in lower case (copy | replaced | add), None when not given."""
        return self.access_control_directive.lower() if self.access_control_directive else None

    @property
    def tagging_directive_value(self) -> str | None:
        """COS's TaggingDirective in lower case (copy | replaced | add), None when not given."""
        return self.tagging_directive.lower() if self.tagging_directive else None

    @property
    def target_bucket(self) -> str:
        return parse_target_resource(self.target_resource)[1]

    @property
    def target_region(self) -> str | None:
        """The region the TargetResource names (another storage's, for a cross-storage copy), if any."""
        return parse_target_resource(self.target_resource)[0]

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


class PutObjectTagging(WireModel):
    """S3PutObjectTagging: replace each object's tag set."""

    tag_set: Annotated[list[Tag], Field(max_length=10)] = []


class DeleteObjectTagging(WireModel):
    """S3DeleteObjectTagging: remove every tag of each object."""


class ObjectOwner(WireModel):
    id: str | None = Field(default=None, alias="ID")
    display_name: str | None = None


class AccessControlList(WireModel):
    owner: ObjectOwner
    grants: list[Grant] = []


class AccessControlPolicy(WireModel):
    access_control_list: AccessControlList | None = None
    canned_access_control_list: str | None = None

    @model_validator(mode="after")
    def _one(self) -> AccessControlPolicy:
        if (self.access_control_list is None) == (self.canned_access_control_list is None):
            raise ValueError("AccessControlPolicy needs exactly one of AccessControlList or CannedAccessControlList")
        return self


class PutObjectAcl(WireModel):
    """S3PutObjectAcl: set each object's ACL (canned, or an explicit grant list)."""

    access_control_policy: AccessControlPolicy


class GlacierJobTier(StrEnum):
    BULK = "BULK"
    STANDARD = "STANDARD"


class InitiateRestoreObject(WireModel):
    """S3InitiateRestoreObject / COSInitiateRestoreObject: restore archived objects for some days."""

    expiration_in_days: Annotated[int | None, Field(ge=1, le=365 * 100)] = None
    glacier_job_tier: GlacierJobTier | None = None
    job_tier: Annotated[str | None, Field(pattern=r"^(?i:bulk|standard|expedited)$")] = None  # COS's name

    @property
    def tier(self) -> str:
        """Restore tier as the S3 RestoreObject API spells it (Bulk | Standard | Expedited)."""
        if self.glacier_job_tier is not None:
            return self.glacier_job_tier.value.title()
        return (self.job_tier or "Standard").title()


SUPPORTED_CHECKSUMS = ("CRC32", "CRC32C", "CRC64NVME", "MD5", "SHA1", "SHA256", "SHA512")
#: Algorithms with a COMPOSITE (checksum of the parts' checksums) type: AWS defines CRC64NVME as
#: full-object only, and MD5 / SHA512 checksums are not stored per part by S3.
COMPOSITE_CHECKSUMS = ("CRC32", "CRC32C", "SHA1", "SHA256")


class ComputeObjectChecksum(WireModel):
    """S3ComputeObjectChecksum: read each object and report its checksum, of the whole object
    (FULL_OBJECT) or of its parts' checksums (COMPOSITE, for objects uploaded in parts)."""

    checksum_algorithm: str = "SHA256"
    checksum_type: str = "FULL_OBJECT"

    @model_validator(mode="after")
    def _check(self) -> ComputeObjectChecksum:
        if self.checksum_algorithm not in SUPPORTED_CHECKSUMS:
            raise unsupported(f"ChecksumAlgorithm {self.checksum_algorithm[:40]} is not supported; use one of "
                              f"{', '.join(SUPPORTED_CHECKSUMS)}")
        if self.checksum_type not in ("FULL_OBJECT", "COMPOSITE"):
            raise ValueError(f"ChecksumType must be FULL_OBJECT or COMPOSITE, not {self.checksum_type[:40]!r}")
        if self.checksum_type == "COMPOSITE" and self.checksum_algorithm not in COMPOSITE_CHECKSUMS:
            raise ValueError(f"ChecksumType COMPOSITE is defined for {', '.join(COMPOSITE_CHECKSUMS)}, not "
                             f"{self.checksum_algorithm} (use FULL_OBJECT)")
        return self


class RetentionMode(StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


class Retention(WireModel):
    """S3Retention: the Object Lock mode and until when; neither of them removes a retention
    (GOVERNANCE only, with BypassGovernanceRetention). EventHold* are refused as unknown fields."""

    mode: RetentionMode | None = None
    retain_until_date: datetime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Retention:
        if (self.mode is None) != (self.retain_until_date is None):
            raise ValueError("Retention needs both Mode and RetainUntilDate (or neither, to remove it)")
        if self.retain_until_date is not None and self.retain_until_date.tzinfo is None:
            raise ValueError("Retention.RetainUntilDate needs a time zone, e.g. 2030-01-01T00:00:00Z")
        return self


class PutObjectRetention(WireModel):
    """S3PutObjectRetention: set each object's Object Lock retention (the bucket must have Object Lock)."""

    retention: Retention
    bypass_governance_retention: bool = False


class LegalHoldStatus(StrEnum):
    ON = "ON"
    OFF = "OFF"


class LegalHold(WireModel):
    status: LegalHoldStatus


class PutObjectLegalHold(WireModel):
    """S3PutObjectLegalHold: turn each object's Object Lock legal hold on or off."""

    legal_hold: LegalHold


class DeleteObject(WireModel):
    """S3DeleteObject / COSDeleteObject (cosbatch and COS): delete each object, or the version
    the manifest names; sent through the multi-object delete API in batches."""


class Invoke(WireModel):
    """Invoke (cosbatch): call a user's Python function per object, `module:function`.

    The function is called as fn(client, bucket=..., key=..., version_id=..., **user_arguments)
    with a boto3 S3 client, and returns a result message (or None).
    """

    function: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    user_arguments: dict[str, str] = {}

"""The job and its parts, as the S3 Control API shapes them (COS maps to the same)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from cosbatch.lifecycle import JobStatus
from cosbatch.models.base import WireModel
from cosbatch.models.manifest_generator import ManifestGenerator
from cosbatch.models.operation_params import (
    ComputeObjectChecksum,
    DeleteObject,
    DeleteObjectTagging,
    InitiateRestoreObject,
    Invoke,
    PutObjectAcl,
    PutObjectCopy,
    PutObjectLegalHold,
    PutObjectRetention,
    PutObjectTagging,
    Tag,
)
from cosbatch.names import ObjectRef, parse_bucket_name, parse_object_name

MAX_PRIORITY = 2147483647


class ManifestFormat(StrEnum):
    S3_CSV = "S3BatchOperations_CSV_20180820"
    S3_INVENTORY = "S3InventoryReport_CSV_20161130"
    COS_CSV = "COSBatchOperations_CSV_V1"
    COS_INVENTORY = "COSInventoryReport_CSV_V1"

    @property
    def is_csv(self) -> bool:
        return self in (ManifestFormat.S3_CSV, ManifestFormat.COS_CSV)


class ManifestField(StrEnum):
    IGNORE = "Ignore"
    BUCKET = "Bucket"
    KEY = "Key"
    VERSION_ID = "VersionId"


class ManifestSpec(WireModel):
    format: ManifestFormat
    fields: list[ManifestField] | None = None

    @model_validator(mode="after")
    def _check_fields(self) -> ManifestSpec:
        if self.fields is not None:
            names = [f for f in self.fields if f is not ManifestField.IGNORE]
            if ManifestField.BUCKET not in names or ManifestField.KEY not in names:
                raise ValueError("Manifest Spec.Fields must contain Bucket and Key")
            if len(names) != len(set(names)):
                raise ValueError("Manifest Spec.Fields names a field twice")
        return self


class ManifestLocation(WireModel):
    object_arn: Annotated[str, Field(min_length=1, max_length=2000)]
    object_version_id: Annotated[str | None, Field(min_length=1, max_length=2000)] = None
    e_tag: Annotated[str | None, Field(min_length=1, max_length=1024, alias="ETag")] = None

    @field_validator("object_arn")
    @classmethod
    def _check_arn(cls, v: str) -> str:
        parse_object_name(v)
        return v

    @property
    def ref(self) -> ObjectRef:
        return parse_object_name(self.object_arn)


class Manifest(WireModel):
    spec: ManifestSpec
    location: ManifestLocation


class ReportFormat(StrEnum):
    S3_CSV = "Report_CSV_20180820"
    COS_CSV = "Report_CSV_V1"
    PARQUET = "Report_Parquet"  # cosbatch: the same columns, typed, in Parquet files


class ReportScope(StrEnum):
    ALL_TASKS = "AllTasks"
    FAILED_TASKS_ONLY = "FailedTasksOnly"


class ReportConfig(WireModel):
    """JobReport: where and what the completion report is."""

    enabled: bool
    bucket: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    format: ReportFormat | None = None
    prefix: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    report_scope: ReportScope | None = None
    expected_bucket_owner: str | None = None

    unsupported_fields: ClassVar[dict[str, str]] = {
        "expected_bucket_owner": "cosbatch storage has no bucket owner accounts to check",
    }

    @model_validator(mode="after")
    def _check(self) -> ReportConfig:
        if self.enabled:
            if not self.bucket:
                raise ValueError("Report.Bucket is required when Report.Enabled is true")
            if self.format is None:
                raise ValueError("Report.Format is required when Report.Enabled is true")
        if self.bucket:
            parse_bucket_name(self.bucket)
        if self.prefix and (".." in self.prefix.split("/") or self.prefix.startswith("/")):
            raise ValueError("Report.Prefix must not start with '/' or contain '..' segments")
        return self

    @property
    def bucket_name(self) -> str:
        assert self.bucket is not None
        return parse_bucket_name(self.bucket)

    @property
    def scope(self) -> ReportScope:
        return self.report_scope or ReportScope.ALL_TASKS


class JobOperation(WireModel):
    """Exactly one operation. The name is the S3 Control element name."""

    s3_put_object_copy: PutObjectCopy | None = Field(default=None, alias="S3PutObjectCopy")
    s3_put_object_tagging: PutObjectTagging | None = Field(default=None, alias="S3PutObjectTagging")
    s3_delete_object_tagging: DeleteObjectTagging | None = Field(default=None, alias="S3DeleteObjectTagging")
    s3_put_object_acl: PutObjectAcl | None = Field(default=None, alias="S3PutObjectAcl")
    s3_initiate_restore_object: InitiateRestoreObject | None = Field(default=None, alias="S3InitiateRestoreObject")
    s3_compute_object_checksum: ComputeObjectChecksum | None = Field(default=None, alias="S3ComputeObjectChecksum")
    s3_delete_object: DeleteObject | None = Field(default=None, alias="S3DeleteObject")
    s3_put_object_retention: PutObjectRetention | None = Field(default=None, alias="S3PutObjectRetention")
    s3_put_object_legal_hold: PutObjectLegalHold | None = Field(default=None, alias="S3PutObjectLegalHold")
    invoke: Invoke | None = Field(default=None, alias="Invoke")

    @model_validator(mode="after")
    def _exactly_one(self) -> JobOperation:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            raise ValueError(f"Operation must have exactly one operation, got {len(chosen)}")
        return self

    @property
    def name(self) -> str:
        for field_name, value in self:
            if value is not None:
                return type(self).model_fields[field_name].alias or field_name
        raise AssertionError("unreachable: validated to have one operation")

    @property
    def params(self) -> WireModel:
        for _, value in self:
            if value is not None:
                return value
        raise AssertionError("unreachable: validated to have one operation")


class FailureReason(WireModel):
    """JobFailure."""

    failure_code: Annotated[str, Field(min_length=1, max_length=64)]
    failure_reason: Annotated[str, Field(min_length=1, max_length=256)]

    @classmethod
    def of(cls, code: str, reason: str) -> FailureReason:
        return cls(failure_code=code[:64], failure_reason=reason[:256] or code[:256])


class JobTimers(WireModel):
    elapsed_time_in_active_seconds: int = 0


class ProgressSummary(WireModel):
    total_number_of_tasks: int | None = None
    number_of_tasks_succeeded: int = 0
    number_of_tasks_failed: int = 0
    #: cosbatch, jobs with cosbatch:skip-identical only: of the tasks succeeded, those whose target was
    #: already identical (not copied). None (left out) for every other job.
    number_of_tasks_skipped: int | None = None
    timers: JobTimers = JobTimers()

    @property
    def tasks_run(self) -> int:
        return self.number_of_tasks_succeeded + self.number_of_tasks_failed

    def copied_and_skipped(self) -> str:
        """" (95 copied, 5 skipped: identical at target)" for a skip-identical job, else ""."""
        if self.number_of_tasks_skipped is None:
            return ""
        copied = self.number_of_tasks_succeeded - self.number_of_tasks_skipped
        return f" ({copied} copied, {self.number_of_tasks_skipped} skipped: identical at target)"


class Dialect(StrEnum):
    S3 = "s3"
    COS = "cos"


#: The job tag that makes CreateJob an undo of an earlier job (registered in cosbatch_tags).
UNDO_OF_TAG = "cosbatch:undo-of"


class CreateJobRequest(WireModel):
    """What a user hands in: CreateJobRequest of either dialect, normalised."""

    account_id: Annotated[str, Field(min_length=1, max_length=64)]
    operation: JobOperation
    report: ReportConfig
    client_request_token: Annotated[str, Field(min_length=1, max_length=64)]
    manifest: Manifest | None = None
    manifest_generator: ManifestGenerator | None = None
    priority: Annotated[int, Field(ge=0, le=MAX_PRIORITY)]
    role_arn: Annotated[str, Field(min_length=1, max_length=2048)]
    confirmation_required: bool = False
    description: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    dry_run: bool = False  # cosbatch: check every object (HEAD) and report what would happen
    dialect: Dialect = Dialect.S3
    tags: list[Tag] | None = None  # job tags; AWS's limits are checked by cosbatch.controller.job_tags

    @model_validator(mode="after")
    def _one_manifest(self) -> CreateJobRequest:
        undo = any(t.key == UNDO_OF_TAG for t in self.tags or [])
        if undo and self.manifest is None and self.manifest_generator is None:
            return self  # an undo job's manifest is the earlier job's undo records
        if (self.manifest is None) == (self.manifest_generator is None):
            raise ValueError("give exactly one of Manifest or ManifestGenerator")
        gen = self.manifest_generator
        if gen is not None and gen.s3_job_manifest_generator.manifest_output_location is None and not self.report.enabled:
            if not gen.s3_job_manifest_generator.enable_manifest_output:
                # Its working copy goes next to the report, and an output location needs output enabled.
                raise ValueError("a generated manifest needs a place to be kept while the job runs: with "
                                 "EnableManifestOutput=false that is next to the report, so enable the Report "
                                 "(or set EnableManifestOutput=true and give a ManifestOutputLocation)")
            raise ValueError("a generated manifest is saved next to the report: enable the Report or give "
                             "ManifestGenerator.S3JobManifestGenerator.ManifestOutputLocation")
        return self


def utcnow() -> datetime:
    return datetime.now(UTC)


class StorageWait(WireModel):
    """A job in Preparing waiting for its storage to answer: it gives up (StorageUnreachable) at `until`."""

    since: datetime
    until: datetime
    #: A few words: "127.0.0.1:18999 unreachable", "10.0.0.5:8333 answered 503 SlowDown".
    reason: str


class Job(WireModel):
    """JobDescriptor: everything DescribeJob returns."""

    job_id: str
    account_id: str
    confirmation_required: bool
    description: str | None = None
    failure_reasons: list[FailureReason] = []
    manifest: Manifest | None = None
    manifest_generator: ManifestGenerator | None = None
    operation: JobOperation
    priority: int
    progress_summary: ProgressSummary
    status: JobStatus
    status_update_reason: str | None = None
    suspended_cause: str | None = None
    suspended_date: datetime | None = None
    creation_time: datetime
    termination_date: datetime | None = None
    report: ReportConfig
    role_arn: str
    client_request_token: str
    dry_run: bool = False
    dialect: Dialect = Dialect.S3
    #: cosbatch: the named storage the job acts on (bound from its RoleArn at creation), and a
    #: copy's target storage when it is another one. None: a job created before storages had names.
    storage: str | None = None
    target_storage: str | None = None
    #: cosbatch: a ceiling on this job's object operations per second (None: none but the storage's).
    max_ops_per_second: float | None = None
    #: Job tags (CreateJob Tags, PutJobTagging); `cosbatch:` keys set cosbatch's own options.
    tags: list[Tag] = []
    #: cosbatch: what running the job is estimated to take, made when it began waiting in Suspended
    #: (cosbatch.controller.estimate); shown next to "Job", not in it, and only while Suspended.
    estimate: dict[str, Any] | None = None
    #: cosbatch: while the job waits in Preparing for its unreachable storage, since when, until
    #: when, and why (kept in the store; never on the wire: StatusUpdateReason says it there).
    storage_wait: StorageWait | None = Field(default=None, exclude=True)

    def shown_estimate(self) -> dict[str, Any] | None:
        """The estimate, while the job waits in Suspended for confirmation; else None."""
        return self.estimate if self.status is JobStatus.SUSPENDED else None

    def describe(self) -> dict:
        """The S3 Control DescribeJob `Job` shape, plus cosbatch's Storage (and TargetStorage) and Tags."""
        out = self.wire()
        out.pop("Estimate", None)  # next to the Job, not in it (shown_estimate)
        out.pop("AccountId", None)
        out.pop("ClientRequestToken", None)
        out.pop("Dialect", None)
        if self.target_storage is None:
            out.pop("TargetStorage", None)
        if self.max_ops_per_second is None:
            out.pop("MaxOpsPerSecond", None)
        if not self.failure_reasons:
            out.pop("FailureReasons", None)
        if not self.tags:
            out.pop("Tags", None)
        if not self.dry_run:
            out.pop("DryRun", None)
        return out

    def storage_text(self) -> str:
        """The storage the job acts on, the copy's target storage and the rate limit, in words."""
        text = self.storage or "(the default storage: created before storages had names)"
        if self.target_storage:
            text += f" → {self.target_storage}"
        if self.max_ops_per_second is not None:
            text += f", at most {self.max_ops_per_second:g} operations/s"
        return text

    def list_entry(self) -> dict:
        """The S3 Control ListJobs `JobListDescriptor` shape."""
        entry = {
            "JobId": self.job_id,
            "Operation": self.operation.name,
            "Priority": self.priority,
            "Status": self.status.value,
            "CreationTime": self.creation_time.isoformat(),
            "ProgressSummary": self.progress_summary.wire(),
        }
        if self.description:
            entry["Description"] = self.description
        if self.termination_date:
            entry["TerminationDate"] = self.termination_date.isoformat()
        return entry

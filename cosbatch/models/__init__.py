"""Pydantic models of jobs, manifests, operations and reports (both API dialects).

The lowest floor: it imports only lifecycle, names and errors.
"""

from cosbatch.models.job import (
    MAX_PRIORITY,
    CreateJobRequest,
    Dialect,
    FailureReason,
    Job,
    JobOperation,
    JobTimers,
    Manifest,
    ManifestField,
    ManifestFormat,
    ManifestLocation,
    ManifestSpec,
    ProgressSummary,
    ReportConfig,
    ReportFormat,
    ReportScope,
    StorageWait,
    utcnow,
)
from cosbatch.models.manifest_generator import ManifestGenerator
from cosbatch.models.operation_params import MetadataDirective, PutObjectCopy, StorageClass, Tag

__all__ = [
    "MAX_PRIORITY",
    "CreateJobRequest",
    "Dialect",
    "FailureReason",
    "Job",
    "JobOperation",
    "JobTimers",
    "StorageWait",
    "Manifest",
    "ManifestField",
    "ManifestFormat",
    "ManifestGenerator",
    "ManifestLocation",
    "ManifestSpec",
    "MetadataDirective",
    "ProgressSummary",
    "PutObjectCopy",
    "ReportConfig",
    "ReportFormat",
    "ReportScope",
    "StorageClass",
    "Tag",
    "utcnow",
]

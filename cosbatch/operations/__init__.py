"""Batch operations: one module per kind of work, behind the `Operation` interface."""

from __future__ import annotations

from typing import Any

from cosbatch.lean_s3 import LeanS3Client
from cosbatch.models import JobOperation
from cosbatch.operations.base import (
    PERMANENT,
    TEMPORARY,
    Operation,
    RetryPolicy,
    TaskResult,
    is_retryable,
    run_with_retries,
)
from cosbatch.operations.copy import CopyOperation
from cosbatch.s3 import S3Config, make_client


def client_for(operation: Operation, cfg: S3Config) -> Any:
    """The client an operation's apply() gets: lean for the fast path, else boto3."""
    if getattr(operation, "client_kind", "boto3") == "lean":
        return LeanS3Client(cfg)
    return make_client(cfg)


def operation_for(job_operation: JobOperation) -> Operation:
    """The plugin that runs this job's operation."""
    if job_operation.s3_put_object_copy is not None:
        return CopyOperation(job_operation.s3_put_object_copy)
    raise NotImplementedError(f"operation {job_operation.name} is not supported yet")


__all__ = [
    "PERMANENT",
    "TEMPORARY",
    "CopyOperation",
    "Operation",
    "RetryPolicy",
    "TaskResult",
    "client_for",
    "is_retryable",
    "operation_for",
    "run_with_retries",
]

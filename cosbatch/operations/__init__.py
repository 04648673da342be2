"""Batch operations: one module per kind of work, behind the `Operation` interface.

It must not import the controller, launch, the pipelines or the surfaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cosbatch.models import JobOperation
from cosbatch.operations.acl import PutAclOperation
from cosbatch.operations.base import (
    DEFAULT_SEGMENT_TASKS,
    PERMANENT,
    TEMPORARY,
    Operation,
    RetryPolicy,
    RetryStopped,
    TaskResult,
    is_retryable,
    run_with_retries,
)
from cosbatch.operations.checksum import ChecksumOperation
from cosbatch.operations.copy import CopyOperation
from cosbatch.operations.delete import DeleteOperation
from cosbatch.operations.invoke import InvokeOperation
from cosbatch.operations.legal_hold import PutLegalHoldOperation
from cosbatch.operations.restore import RestoreOperation
from cosbatch.operations.retention import PutRetentionOperation
from cosbatch.operations.tagging import DeleteTaggingOperation, PutTaggingOperation
from cosbatch.storage import Storage, client_of_kind


def client_for(operation: Operation, storage: Storage) -> Any:
    """The client an operation's apply() gets: lean for the fast path, else boto3."""
    return client_of_kind(getattr(operation, "client_kind", "boto3"), storage)


#: Operation element name → the plugin that runs it.
PLUGINS: dict[str, Callable[[Any], Operation]] = {
    "S3PutObjectCopy": CopyOperation,
    "S3PutObjectTagging": PutTaggingOperation,
    "S3DeleteObjectTagging": DeleteTaggingOperation,
    "S3PutObjectAcl": PutAclOperation,
    "S3InitiateRestoreObject": RestoreOperation,
    "S3ComputeObjectChecksum": ChecksumOperation,
    "S3DeleteObject": DeleteOperation,
    "S3PutObjectRetention": PutRetentionOperation,
    "S3PutObjectLegalHold": PutLegalHoldOperation,
    "Invoke": InvokeOperation,
}


def operation_for(job_operation: JobOperation, storage: Storage | None = None,
                  target_storage: Storage | None = None, verify: bool = False,
                  skip_identical: bool = False) -> Operation:
    """The plugin that runs this job's operation (its parameters already validated) on
    `storage`; a copy to another storage (`target_storage`) streams each object across;
    `verify` (copies only) compares each copy with its source; `skip_identical` (copies only)
    leaves a target that is already identical alone."""
    if skip_identical:
        from cosbatch.operations.skip_identical import SkipIdenticalCopy

        if job_operation.name != "S3PutObjectCopy" or storage is None:
            raise ValueError(f"{job_operation.name} has nothing to skip")
        copy: Any = operation_for(job_operation, storage, target_storage, verify)
        target = (lambda _source: copy._target_client()) if target_storage is not None else (lambda source: source)
        return SkipIdenticalCopy(copy, storage, target_storage, target)  # type: ignore[return-value]
    if target_storage is not None:
        from cosbatch.operations.transfer import CrossStorageCopyOperation

        if job_operation.name != "S3PutObjectCopy":
            raise ValueError(f"{job_operation.name} has no target storage")
        return CrossStorageCopyOperation(job_operation.params, target_storage, verify=verify)  # type: ignore[arg-type]
    if job_operation.name == "S3PutObjectCopy":
        return CopyOperation(job_operation.params, storage, verify=verify)  # type: ignore[arg-type]
    if verify:
        raise ValueError(f"{job_operation.name} has nothing to verify")
    return PLUGINS[job_operation.name](job_operation.params)


def segment_tasks_for(job_operation: JobOperation, configured: int | None = None) -> int:
    """Tasks per manifest segment: the configured size if any, else the operation's own."""
    if configured is not None:
        return configured
    return getattr(PLUGINS[job_operation.name], "segment_tasks", DEFAULT_SEGMENT_TASKS)


__all__ = [
    "PERMANENT",
    "TEMPORARY",
    "DEFAULT_SEGMENT_TASKS",
    "CopyOperation",
    "Operation",
    "RetryPolicy",
    "TaskResult",
    "client_for",
    "is_retryable",
    "operation_for",
    "run_with_retries",
    "RetryStopped",
    "segment_tasks_for",
]

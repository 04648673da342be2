"""Versioning checks for undo: at CreateJob, an undoable delete or copy whose bucket is not
versioned is refused; in Preparing, a (not undoable) delete job on an unversioned bucket gets a
warning in its StatusUpdateReason.

The buckets a job's objects live in are read from what is cheap to know: a generated manifest's
source bucket, or the first lines of a CSV manifest (the preflight's sample). Every task of an
undoable job still checks its own bucket before it changes anything (NotUndoable).
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.controller.preflight import first_lines
from cosbatch.errors import CosbatchError, InvalidRequest
from cosbatch.manifests import CsvLayout, ManifestSource
from cosbatch.models import CreateJobRequest, Job, ManifestFormat
from cosbatch.names import parse_bucket_name


def sampled_buckets(job: CreateJobRequest | Job, client: Any) -> set[str]:
    """The buckets of the job's first objects (generated manifests: the source bucket; inventory
    manifests: none, unread here)."""
    if job.manifest_generator is not None:
        return {parse_bucket_name(job.manifest_generator.s3_job_manifest_generator.source_bucket)}
    if job.manifest is None or job.manifest.spec.format in (ManifestFormat.S3_INVENTORY, ManifestFormat.COS_INVENTORY):
        return set()
    location = job.manifest.location
    source = ManifestSource(location.ref, client, location.object_version_id)
    fields = tuple(job.manifest.spec.fields) if job.manifest.spec.fields else None
    return {line.task.bucket for line in first_lines(source, CsvLayout(fields))}


def versioned(client: Any, bucket: str) -> bool:
    return client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"


def check_undoable_buckets(request: CreateJobRequest, client: Any) -> None:
    """InvalidRequest for an undoable delete on an unversioned bucket, or an undoable copy into one."""
    name = request.operation.name
    try:
        if name == "S3PutObjectCopy":
            target = request.operation.params.target_bucket  # type: ignore[attr-defined]
            if not versioned(client, target):
                raise InvalidRequest(f"job tag cosbatch:undoable=true: target bucket {target} is not versioned, "
                                     "so an object the copy overwrites could not be restored (enable versioning "
                                     "on it first)")
        elif name == "S3DeleteObject":
            for bucket in sorted(sampled_buckets(request, client)):
                if not versioned(client, bucket):
                    raise InvalidRequest(f"job tag cosbatch:undoable=true: bucket {bucket} is not versioned, so "
                                         "a delete there cannot be undone (enable versioning on it first)")
    except InvalidRequest:
        raise
    except (ClientError, BotoCoreError, CosbatchError) as exc:
        why = exc.message if isinstance(exc, CosbatchError) else str(exc)
        raise InvalidRequest(f"job tag cosbatch:undoable=true: cannot tell whether the job's buckets are "
                             f"versioned: {why}") from None


def unversioned_delete_warning(job: Job, client: Any) -> str | None:
    """The preflight's warning for a delete job on an unversioned bucket (None: no warning)."""
    if job.operation.name != "S3DeleteObject":
        return None
    with contextlib.suppress(ClientError, BotoCoreError, CosbatchError):
        unversioned = sorted(b for b in sampled_buckets(job, client) if not versioned(client, b))
        if unversioned:
            return (f"Warning: bucket {', '.join(unversioned)} is not versioned: these deletes are permanent and "
                    "cannot be undone")
    return None

"""An undo job's manifest: the undo records a finished undoable job wrote, concatenated.

The record files (`job-ID/undo/seg-N.csv`, cosbatch.operations.undo_records) are already
lines of a CSV manifest, so they are joined as they are into `job-ID/undo-manifest.csv`, streamed
(cosbatch.reports.joined_manifest).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import TERMINAL
from cosbatch.models import Job
from cosbatch.models.job import UNDO_OF_TAG
from cosbatch.operations.undo_records import UNDO_MANIFEST_FIELDS, is_final_record_key
from cosbatch.reports.joined_manifest import object_chunks, write_joined_manifest
from cosbatch.reports.layout import ReportLocation
from cosbatch.store.base import SKIP_IDENTICAL_TAG, TRIAL_TASKS_TAG

UNDOABLE_TAG = "cosbatch:undoable"
#: Options of the earlier job an undo job does not carry: it records nothing, tries nothing first,
#: copies nothing.
_NOT_CARRIED = {UNDOABLE_TAG, UNDO_OF_TAG, TRIAL_TASKS_TAG, SKIP_IDENTICAL_TAG, "cosbatch:verify"}


def _record_keys(client: Any, bucket: str, undo_dir: str) -> list[str]:
    keys: list[str] = []
    token: str | None = None
    while True:
        page = client.list_objects_v2(Bucket=bucket, Prefix=undo_dir + "/",
                                      **({"ContinuationToken": token} if token else {}))
        keys.extend(o["Key"] for o in page.get("Contents", []) if is_final_record_key(o["Key"]))
        if not page.get("IsTruncated"):
            return sorted(keys)
        token = page["NextContinuationToken"]


def undo_manifest(client: Any, job: Job) -> tuple[str, str, str, int]:
    """Write `undo-manifest.csv` beside the job's report; returns (bucket, key, etag, task count).
    InvalidRequest when the job is not finished, recorded no undo, or has nothing to undo."""
    if not any(t.key == UNDOABLE_TAG and t.value.lower() == "true" for t in job.tags):
        raise InvalidRequest(f"job {job.job_id} did not record undo: only a job created with --undoable "
                             f"(job tag {UNDOABLE_TAG}=true) can be undone")
    if job.status not in TERMINAL:
        raise InvalidRequest(f"job {job.job_id} is {job.status.value}; it can be undone once it has finished")
    location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)

    def records() -> Iterator[bytes]:
        try:
            for key in _record_keys(client, location.bucket, location.undo_dir):
                yield from object_chunks(client, location.bucket, key)
        except (ClientError, BotoCoreError) as exc:
            raise InvalidRequest(f"cannot read the undo records of job {job.job_id} under "
                                 f"s3://{location.bucket}/{location.undo_dir}/: {exc}") from None

    etag, count = write_joined_manifest(client, location.bucket, location.undo_manifest_key, records(), lambda: (
        InvalidRequest(f"job {job.job_id} changed nothing that can be undone (no task succeeded)")))
    return location.bucket, location.undo_manifest_key, etag, count


def undo_tags(job: Job) -> list[dict[str, str]]:
    """The undo job's tags: the earlier job's (its rate limit, failure threshold, own tags) but its
    undo, trial and copy options, plus cosbatch:undo-of."""
    return [t.wire() for t in job.tags if t.key not in _NOT_CARRIED] + [{"Key": UNDO_OF_TAG, "Value": job.job_id}]


def undo_request(job: Job, manifest_bucket: str, manifest_key: str, etag: str, **overrides: Any) -> dict:
    """A CreateJob body for the undo of `job`: its role, storage, operation (shown) and report."""
    body: dict[str, Any] = {
        "AccountId": job.account_id,
        "ClientRequestToken": f"undo-{job.job_id}-{etag[:16]}",
        "Priority": job.priority,
        "RoleArn": job.role_arn,
        "Description": f"undo of job {job.job_id}",
        "ConfirmationRequired": job.confirmation_required,
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": UNDO_MANIFEST_FIELDS},
            "Location": {"ObjectArn": f"arn:aws:s3:::{manifest_bucket}/{manifest_key}", "ETag": etag},
        },
        "Operation": job.operation.wire(),
        "Report": job.report.wire(),
        "Tags": undo_tags(job),
    }
    body.update({k: v for k, v in overrides.items() if v is not None})
    return body

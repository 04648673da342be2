"""JobService: the five batch job calls, validated, applied through the lifecycle table.

The CLI, the HTTP API and the Python client all call this; none of them touch
the store directly.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cosbatch.controller.cosbatch_tags import (
    MAX_OPS_PER_SECOND,
    SKIP_IDENTICAL,
    TRIAL_TASKS,
    UNDO_OF,
    UNDOABLE,
    VERIFY,
    check_rate,
    option_value,
)
from cosbatch.controller.job_tags import check_tags, parse_tags
from cosbatch.controller.notify_policy import check_allowed
from cosbatch.errors import IllegalTransition, InvalidRequest, UnsupportedField
from cosbatch.lifecycle import JobStatus, parse_status, user_request_target
from cosbatch.models import (
    MAX_PRIORITY,
    CreateJobRequest,
    Job,
    JobOperation,
    ProgressSummary,
    Tag,
    utcnow,
)
from cosbatch.storage import StorageCatalog
from cosbatch.store.base import JobPage, JobStore, Segment, StatusChange

MAX_LIST_RESULTS = 1000


def _request_hash(request: CreateJobRequest) -> str:
    body = request.model_dump(by_alias=True, mode="json", exclude={"client_request_token"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def check_priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        try:
            priority = int(str(priority))
        except ValueError:
            raise InvalidRequest(f"priority must be an integer from 0 to {MAX_PRIORITY}, not {priority!r}") from None
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidRequest(f"priority must be an integer from 0 to {MAX_PRIORITY}, not {priority}")
    return priority




_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_job_id(job_id: object) -> str:
    """A job ID as S3 Control defines them (letters, digits, '-', '_'); InvalidRequest otherwise.

    Nothing else reaches the store or a report path, and the error never echoes more
    than a short, printable excerpt of what was sent.
    """
    if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id):
        return job_id
    shown = ascii(job_id)[:40] + ("..." if len(ascii(job_id)) > 40 else "")
    raise InvalidRequest(f"invalid job id {shown}: expected 1 to 64 letters, digits, '-' or '_'")


class JobService:
    def __init__(self, store: JobStore, storages: StorageCatalog | None = None, list_window_days: int = 90,
                 notify_allow: Sequence[str] = ()) -> None:
        """`storages`: the storages jobs may bind to (default: the process-wide endpoint alone);
        `notify_allow`: the URL prefixes a job's cosbatch:notify-url may lie under (none by default)."""
        self.store = store
        self.storages = storages or StorageCatalog.from_env()
        self.list_window = timedelta(days=list_window_days)
        self.notify_allow = tuple(notify_allow)

    def bind(self, request: CreateJobRequest) -> tuple[str, str | None]:
        """(storage, target storage or None) of a new job: the storage its RoleArn names, else the
        default; a copy's TargetResource region may name another. InvalidRequest for a region no
        storage serves, AccessDenied for a storage the account may not use."""
        storage = self.storages.for_role(request.role_arn, request.account_id)
        region = getattr(request.operation.params, "target_region", None)
        target = self.storages.for_region(region, storage, request.account_id) if region else storage
        if target.name != storage.name:
            _refuse_across_storages(request.operation)
        return storage.name, (target.name if target.name != storage.name else None)

    def create_job(self, request: CreateJobRequest, max_ops_per_second: object = None) -> Job:
        """Create a New job, bound to its storage by name; the same ClientRequestToken with the same
        request returns the first job. `max_ops_per_second`: the job's own rate limit (or its
        cosbatch:max-ops-per-second tag's). With the tag cosbatch:undo-of=JOB_ID, the job undoes
        that job (see `create_undo_job`)."""
        tags = check_tags(request.tags or [])
        undo_of = option_value(tags, UNDO_OF)
        if undo_of is not None and request.manifest is None and request.manifest_generator is None:
            return self._undo_from_request(request, undo_of, max_ops_per_second)
        return self._insert(request, max_ops_per_second)

    def _insert(self, request: CreateJobRequest, max_ops_per_second: object = None) -> Job:
        storage, target_storage = self.bind(request)
        tags = _check_verify(check_tags(request.tags or []), request.operation, request.dry_run)
        _check_undo(tags, request)
        if option_value(tags, UNDOABLE) and request.operation.name in ("S3DeleteObject", "S3PutObjectCopy"):
            if target_storage is not None or option_value(tags, SKIP_IDENTICAL):
                raise InvalidRequest(f"job tag {UNDOABLE}=true: a copy to another storage, or with "
                                     f"{SKIP_IDENTICAL}, cannot be undone yet")
            self._check_versioned(request, storage)
        check_allowed(tags, self.notify_allow)
        rate = check_rate(max_ops_per_second)
        tagged_rate = option_value(tags, MAX_OPS_PER_SECOND)
        if tagged_rate is not None and rate is not None and tagged_rate != rate:
            raise InvalidRequest(f"the rate limit is given twice: {rate:g} (max-ops-per-second) and "
                                 f"{tagged_rate:g} (job tag {MAX_OPS_PER_SECOND}); give one")
        rate = rate if rate is not None else tagged_rate
        job = Job(
            job_id=str(uuid.uuid4()),
            account_id=request.account_id,
            confirmation_required=request.confirmation_required,
            description=request.description,
            manifest=request.manifest,
            manifest_generator=request.manifest_generator,
            operation=request.operation,
            priority=request.priority,
            progress_summary=ProgressSummary(),
            status=JobStatus.NEW,
            creation_time=utcnow(),
            report=request.report,
            role_arn=request.role_arn,
            client_request_token=request.client_request_token,
            dry_run=request.dry_run,
            dialect=request.dialect,
            storage=storage,
            target_storage=target_storage,
            max_ops_per_second=rate,
            tags=tags,
        )
        created, _ = self.store.insert_job(job, _request_hash(request))
        return created

    def _check_versioned(self, request: CreateJobRequest, storage: str) -> None:
        from cosbatch.controller.undo_checks import check_undoable_buckets
        from cosbatch.storage import make_client

        client = make_client(self.storages.get(storage))
        try:
            check_undoable_buckets(request, client)
        finally:
            client.close()

    def create_job_from_report(self, job_id: str, client: Any, account_id: str | None = None,
                               max_ops_per_second: object = None, **overrides: Any) -> Job:
        """A new job over the failed tasks of a finished job, with the same operation and report.

        `client` is an S3 client that can read the earlier job's report; overrides
        (Priority, Description, ClientRequestToken, ...) replace the copied fields.
        """
        from cosbatch.reports.rerun import failed_tasks_manifest, rerun_request
        from cosbatch.wire.dialects import parse_create_job

        earlier = self.store.get_job(check_job_id(job_id), account_id)
        bucket, key, etag, _ = failed_tasks_manifest(client, earlier)
        return self.create_job(parse_create_job(rerun_request(earlier, bucket, key, etag, **overrides)),
                               max_ops_per_second)

    def create_undo_job(self, job_id: str, client: Any = None, account_id: str | None = None,
                        max_ops_per_second: object = None, **overrides: Any) -> Job:
        """A new job that restores what the finished undoable job `job_id` overwrote (its role,
        storage, operation and report; Priority, Description, ... may be overridden). `client`: an
        S3 client that reads that job's report (default: one for its storage)."""
        from cosbatch.reports.undo_manifest import undo_manifest, undo_request
        from cosbatch.wire.dialects import parse_create_job

        earlier = self.store.get_job(check_job_id(job_id), account_id)
        own = None
        if client is None:
            from cosbatch.storage import make_client

            client = own = make_client(self.storages.get(earlier.storage))
        try:
            bucket, key, etag, _ = undo_manifest(client, earlier)
        finally:
            if own is not None:
                own.close()
        return self._insert(parse_create_job(undo_request(earlier, bucket, key, etag, **overrides)),
                            max_ops_per_second)

    def _undo_from_request(self, request: CreateJobRequest, job_id: str, max_ops_per_second: object) -> Job:
        """CreateJob with cosbatch:undo-of (the API's undo): the request names the earlier job's
        Operation, Report and RoleArn (S3 Control requires them); anything else is refused."""
        earlier = self.store.get_job(check_job_id(job_id), request.account_id)
        for name, given, theirs in (("Operation", request.operation, earlier.operation),
                                    ("Report", request.report, earlier.report),
                                    ("RoleArn", request.role_arn, earlier.role_arn)):
            if given != theirs:
                raise InvalidRequest(f"{name} of an undo job (job tag {UNDO_OF}={job_id}) must be job {job_id}'s: "
                                     "the undo restores what that job did, on its storage, next to its report")
        if request.dry_run:
            raise InvalidRequest(f"job tag {UNDO_OF} does not apply to a dry run")
        overrides = {"Priority": request.priority, "ConfirmationRequired": request.confirmation_required,
                     "Description": request.description, "ClientRequestToken": request.client_request_token,
                     "Tags": [t.wire() for t in request.tags or []]}
        return self.create_undo_job(job_id, None, request.account_id, max_ops_per_second, **overrides)

    def describe_job(self, job_id: str, account_id: str | None = None) -> Job:
        return self.store.get_job(check_job_id(job_id), account_id)

    def failures_by_code(self, job: Job, segments: Sequence[Segment] | None = None) -> dict[str, int]:
        """The job's failed tasks by ErrorCode, most frequent first (see cosbatch.reports.summary),
        from the per-job sums the store keeps: no segment is read, however big the job.
        `segments`: accepted for older callers and ignored (the store's sums are theirs)."""
        from cosbatch.reports.summary import failures_by_code

        return failures_by_code(job, self.store.failure_codes(job.job_id))

    def segments(self, job: Job) -> list[Segment]:
        """The job's segments as the store has them (counters, completion times)."""
        return self.store.segments(job.job_id)

    def list_jobs(
        self,
        account_id: str | None,
        statuses: Sequence[str | JobStatus] = (),
        text: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> JobPage:
        """Jobs created in the last 90 days, newest first, filtered by status and by a
        description or job-ID substring (the console's filters)."""
        if max_results is None or max_results == 0:
            max_results = MAX_LIST_RESULTS
        if not 0 < max_results <= MAX_LIST_RESULTS:
            raise InvalidRequest(f"maxResults must be from 0 to {MAX_LIST_RESULTS}, not {max_results}")
        parsed = [s if isinstance(s, JobStatus) else parse_status(s) for s in statuses]
        return self.store.list_jobs(
            account_id,
            statuses=parsed,
            text=text,
            created_after=utcnow() - self.list_window,
            max_results=max_results,
            next_token=next_token,
        )

    def update_rate_limit(self, job_id: str, max_ops_per_second: object, account_id: str | None = None) -> Job:
        """Change a job's rate limit (None: remove it); a running job follows within seconds."""
        return self.store.set_rate_limit(check_job_id(job_id), check_rate(max_ops_per_second), account_id)

    def get_job_tagging(self, job_id: str, account_id: str | None = None) -> list[Tag]:
        return self.store.get_job_tags(check_job_id(job_id), account_id)

    def put_job_tagging(self, job_id: str, tags: Any, account_id: str | None = None) -> Job:
        """Replace the job's tag set (an empty set removes every tag); the options among them
        (cosbatch:max-ops-per-second) apply at once, to a running job too."""
        checked = parse_tags(tags)
        check_allowed(checked, self.notify_allow)
        before = self.store.get_job_tags(check_job_id(job_id), account_id)
        current = self.store.get_job(job_id, account_id)
        _check_verify(checked, current.operation, current.dry_run)
        _check_trial_unchanged(current, before, checked)
        _check_undo_unchanged(before, checked)
        job = self.store.put_job_tags(job_id, checked, account_id)
        return self._follow_tags(job, before, account_id)

    def delete_job_tagging(self, job_id: str, account_id: str | None = None) -> Job:
        before = self.store.get_job_tags(check_job_id(job_id), account_id)
        _check_trial_unchanged(self.store.get_job(job_id, account_id), before, [])
        _check_undo_unchanged(before, [])
        return self._follow_tags(self.store.delete_job_tags(job_id, account_id), before, account_id)

    def _follow_tags(self, job: Job, before: list[Tag], account_id: str | None) -> Job:
        """Apply a changed cosbatch:max-ops-per-second tag; a rate set otherwise (CLI) stays while
        no tag names one."""
        rate = option_value(job.tags, MAX_OPS_PER_SECOND)
        tagged = rate is not None or option_value(before, MAX_OPS_PER_SECOND) is not None
        if tagged and rate != job.max_ops_per_second:
            return self.update_rate_limit(job.job_id, rate, account_id)
        return job

    def update_job_priority(self, job_id: str, priority: object, account_id: str | None = None) -> Job:
        """Change the priority at any time; the scheduler re-evaluates preemption on its next step."""
        return self.store.set_priority(check_job_id(job_id), check_priority(priority), account_id)

    def update_job_status(
        self, job_id: str, requested: str | JobStatus, reason: str | None = None, account_id: str | None = None
    ) -> Job:
        """Ready confirms a Suspended job; Cancelled cancels any job not yet in a final status."""
        check_job_id(job_id)
        try:
            target_requested = requested if isinstance(requested, JobStatus) else parse_status(requested)
        except InvalidRequest:  # not a status at all: name the two a user may ask for, not all thirteen
            raise InvalidRequest(f"requested job status must be Ready or Cancelled, not {requested!r}") from None
        if reason is not None and len(reason) > 256:
            raise InvalidRequest("StatusUpdateReason must be at most 256 characters")
        for _ in range(20):
            current = self.store.get_job(job_id, account_id).status
            target = user_request_target(current, target_requested)
            if target is JobStatus.READY:
                # Confirming after a trial run: the tasks the trial left (HELD) run now. Released
                # first, so a Ready job never waits on segments nobody will release.
                self.store.release_held_segments(job_id)
            # Without a reason of the user's, the request itself is the reason: an earlier one
            # ("--timeout reached: resumed by the next run") must not stand beside the new status.
            said = reason if reason is not None else _REQUESTED_REASONS.get(target_requested)
            if target is None or self.store.transition(job_id, current, target, reason=said):
                return self.store.get_job(job_id, account_id)
            # The job moved on between our read and our write: decide again from its new status.
        raise IllegalTransition(f"job {job_id} is changing status too fast; try again")

    def history(self, job_id: str) -> list[StatusChange]:
        """The job's status changes, oldest first; NoSuchJob for an unknown job (not an empty list)."""
        self.store.get_status(check_job_id(job_id))
        return self.store.history(job_id)


#: StatusUpdateReason of a status change a user requested without giving a reason.
_REQUESTED_REASONS = {JobStatus.CANCELLED: "cancellation requested", JobStatus.READY: "run confirmed"}

#: Copy fields a copy to another storage cannot honour: its streamed PUT / UploadPart carries
#: no Content-MD5 or checksum, which S3 needs with a checksum algorithm or Object Lock.
_NOT_ACROSS_STORAGES = {"checksum_algorithm": "ChecksumAlgorithm", "object_lock_mode": "ObjectLockMode",
                        "object_lock_retain_until_date": "ObjectLockRetainUntilDate",
                        "object_lock_legal_hold_status": "ObjectLockLegalHoldStatus"}


def _refuse_across_storages(operation: JobOperation) -> None:
    if getattr(operation.params, "access_control_directive_value", None) in ("copy", "add"):
        raise UnsupportedField("AccessControlDirective Copy / Add is not supported on a copy to another storage: "
                               "the source's grants name accounts of the source's storage")
    for name, alias in _NOT_ACROSS_STORAGES.items():
        if getattr(operation.params, name, None) is not None:
            raise UnsupportedField(f"{alias} is not supported on a copy to another storage: the object is "
                                   "streamed, and S3 needs the content's MD5 or checksum up front with it")


def _check_trial_unchanged(job: Job, before: list[Tag], after: list[Tag]) -> None:
    """A trial's size is read once, in Preparing: changing it later would be accepted and ignored."""
    if job.status is not JobStatus.NEW and option_value(before, TRIAL_TASKS) != option_value(after, TRIAL_TASKS):
        raise InvalidRequest(f"job tag {TRIAL_TASKS} cannot change once the job is prepared (it is "
                             f"{job.status.value}); it is read in Preparing")


def _check_undo_unchanged(before: list[Tag], after: list[Tag]) -> None:
    """Whether a job records undo, and what it undoes, is fixed when it is created: a job that
    recorded only some of its tasks could not be undone."""
    for key in (UNDOABLE, UNDO_OF):
        if option_value(before, key) != option_value(after, key):
            raise InvalidRequest(f"job tag {key} cannot change once the job is created")


def _check_undo(tags: list[Tag], request: CreateJobRequest) -> None:
    """Refuse --undoable where the job could not be undone, and cosbatch:undo-of where it is
    not an undo job made by `create_undo_job`."""
    from cosbatch.operations.undo import NOT_UNDOABLE_WHY, UNDOABLE_OPERATIONS

    name = request.operation.name
    if option_value(tags, UNDOABLE):
        if name not in UNDOABLE_OPERATIONS:
            why = NOT_UNDOABLE_WHY.get(name, "cosbatch cannot record what it overwrites yet")
            raise InvalidRequest(f"job tag {UNDOABLE}=true: {name} cannot be undone: {why}")
        if request.dry_run:
            raise InvalidRequest(f"job tag {UNDOABLE}=true does not apply to a dry run, which changes nothing")
        if not request.report.enabled:
            raise InvalidRequest(f"job tag {UNDOABLE}=true needs the job's report: the undo records are "
                                 "written next to it (enable Report)")
        if option_value(tags, UNDO_OF):
            raise InvalidRequest(f"job tags {UNDOABLE} and {UNDO_OF} cannot be given together")
    undo_of = option_value(tags, UNDO_OF)
    if undo_of is not None:
        from cosbatch.operations.undo_records import UNDO_MANIFEST_FIELDS

        manifest = request.manifest
        arn = manifest.location.object_arn if manifest is not None else ""
        fields = [f.value for f in (manifest.spec.fields or [])] if manifest is not None else []
        if not arn.endswith(f"/job-{undo_of}/undo-manifest.csv") or fields != UNDO_MANIFEST_FIELDS:
            raise InvalidRequest(f"job tag {UNDO_OF}: an undo job takes its manifest from job {undo_of}'s undo "
                                 "records: give no Manifest or ManifestGenerator")


def _check_verify(tags: list[Tag], operation: JobOperation, dry_run: bool = False) -> list[Tag]:
    """The tags, unless they ask to verify (or skip identical objects in) a job that copies nothing."""
    for key in (VERIFY, SKIP_IDENTICAL):
        if option_value(tags, key) and operation.name != "S3PutObjectCopy":
            raise InvalidRequest(f"job tag {key}=true applies to S3PutObjectCopy jobs only, not {operation.name}")
    if dry_run and option_value(tags, SKIP_IDENTICAL):
        raise InvalidRequest(f"job tag {SKIP_IDENTICAL}=true does not apply to a dry run, which copies nothing")
    return tags

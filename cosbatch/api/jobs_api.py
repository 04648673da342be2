"""The five batch job calls over HTTP, in either dialect: request → JobService → XML answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cosbatch.controller import JobService
from cosbatch.errors import InvalidRequest
from cosbatch.models import Dialect, Job
from cosbatch.wire.dialects import S3_TO_COS_OPERATIONS, parse_create_job
from cosbatch.wire.shapes import namespace_for, shapes_for
from cosbatch.wire.xml_codec import decode, document, parse_document

JOB_ID = re.compile(r"^[a-zA-Z0-9_-]{5,36}$")


def check_job_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise InvalidRequest("a job ID is 5 to 36 characters of letters, digits, '-' and '_'")
    return job_id


@dataclass(frozen=True)
class Call:
    """One authenticated API request, reduced to what the handlers need."""

    dialect: Dialect
    account_id: str | None  # None only in dev mode without an account header: every account
    query: dict[str, list[str]]
    body: bytes

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        if values and len(values) > 1:
            raise InvalidRequest(f"query parameter {name} is given more than once")
        return values[0] if values else None


class JobsApi:
    """Handlers return (root element, body, shape) for the XML answer."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    # -- rendering -------------------------------------------------------------
    def _operation_name(self, name: str, dialect: Dialect) -> str:
        return S3_TO_COS_OPERATIONS.get(name, name) if dialect is Dialect.COS else name

    def _job(self, job: Job, dialect: Dialect) -> dict[str, Any]:
        out = job.describe()
        out.pop("Storage", None)  # cosbatch's own: the XML answers stay as their specs say
        out.pop("TargetStorage", None)
        out.pop("MaxOpsPerSecond", None)
        out.pop("Tags", None)  # GetJobTagging answers them
        if dialect is Dialect.COS:
            out["Operation"] = {self._operation_name(k, dialect): v for k, v in out["Operation"].items()}
        return out

    def render(self, call: Call, root: str, body: dict[str, Any], shape: str) -> bytes:
        return document(root, body, shape, shapes_for(call.dialect), namespace_for(call.dialect))

    # -- the calls ---------------------------------------------------------------
    def create_job(self, call: Call) -> bytes:
        shapes = shapes_for(call.dialect)
        fields = decode(parse_document(call.body, "CreateJobRequest"), "CreateJobRequest", shapes)
        if call.account_id is None:
            raise InvalidRequest(f"the {account_header(call.dialect)} header is required")
        fields["AccountId"] = call.account_id
        job = self.service.create_job(parse_create_job(fields, call.dialect))
        return self.render(call, "CreateJobResult", {"JobId": job.job_id}, "CreateJobResult")

    def list_jobs(self, call: Call) -> bytes:
        max_results = call.one("maxResults")
        if max_results is not None and not re.fullmatch(r"\d{1,9}", max_results):
            raise InvalidRequest(f"maxResults must be an integer from 0 to 1000, not {max_results[:20]!r}")
        page = self.service.list_jobs(
            call.account_id,
            statuses=call.query.get("jobStatuses", []),
            max_results=int(max_results) if max_results is not None else None,
            next_token=call.one("nextToken"),
        )
        jobs = []
        for job in page.jobs:
            entry = job.list_entry()
            entry["Operation"] = self._operation_name(entry["Operation"], call.dialect)
            jobs.append(entry)
        body: dict[str, Any] = {"Jobs": jobs}
        if page.next_token:
            body["NextToken"] = page.next_token
        return self.render(call, "ListJobsResult", body, "ListJobsResult")

    def describe_job(self, call: Call, job_id: str) -> bytes:
        job = self.service.describe_job(check_job_id(job_id), call.account_id)
        return self.render(call, "DescribeJobResult", {"Job": self._job(job, call.dialect)}, "DescribeJobResult")

    def update_job_priority(self, call: Call, job_id: str) -> bytes:
        priority = call.one("priority")
        if priority is None:
            raise InvalidRequest("the priority query parameter is required")
        job = self.service.update_job_priority(check_job_id(job_id), priority, call.account_id)
        return self.render(call, "UpdateJobPriorityResult", {"JobId": job.job_id, "Priority": job.priority},
                           "UpdateJobPriorityResult")

    def update_job_status(self, call: Call, job_id: str) -> bytes:
        requested = call.one("requestedJobStatus")
        if requested is None:
            raise InvalidRequest("the requestedJobStatus query parameter is required")
        job = self.service.update_job_status(check_job_id(job_id), requested, call.one("statusUpdateReason"),
                                             call.account_id)
        body: dict[str, Any] = {"JobId": job.job_id, "Status": job.status.value}
        if job.status_update_reason:
            body["StatusUpdateReason"] = job.status_update_reason
        return self.render(call, "UpdateJobStatusResult", body, "UpdateJobStatusResult")

    # -- job tags (S3 Control's tagging calls; COS documents none: the same shapes, no namespace) --
    def put_job_tagging(self, call: Call, job_id: str) -> bytes:
        shapes = shapes_for(call.dialect)
        fields = decode(parse_document(call.body, "PutJobTaggingRequest"), "PutJobTaggingRequest", shapes)
        unknown = sorted(set(fields) - {"Tags"})
        if unknown:
            raise InvalidRequest(f"PutJobTaggingRequest has no element {unknown[0]}")
        if "Tags" not in fields:
            raise InvalidRequest("PutJobTaggingRequest.Tags is required")
        self.service.put_job_tagging(check_job_id(job_id), fields["Tags"], call.account_id)
        return b""

    def get_job_tagging(self, call: Call, job_id: str) -> bytes:
        tags = self.service.get_job_tagging(check_job_id(job_id), call.account_id)
        return self.render(call, "GetJobTaggingResult", {"Tags": [t.wire() for t in tags]}, "GetJobTaggingResult")

    def delete_job_tagging(self, call: Call, job_id: str) -> bytes:
        self.service.delete_job_tagging(check_job_id(job_id), call.account_id)
        return b""


def account_header(dialect: Dialect) -> str:
    return "x-cos-appid" if dialect is Dialect.COS else "x-amz-account-id"

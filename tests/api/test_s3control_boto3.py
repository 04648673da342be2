"""Stock boto3 `s3control` against `cosbatch serve`: the five calls, the paginator, modeled errors."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest
from botocore.paginate import Paginator

from tests.api.conftest import ALICE
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest


def create_kwargs(src: str, dst: str, rep: str, etag: str, **over) -> dict:
    kwargs = dict(
        AccountId=ALICE.account,
        ConfirmationRequired=False,
        Operation={"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "StorageClass": "STANDARD"}},
        Report={"Bucket": f"arn:aws:s3:::{rep}", "Format": "Report_CSV_20180820", "Enabled": True,
                "Prefix": "reports", "ReportScope": "AllTasks"},
        Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                  "Location": {"ObjectArn": f"arn:aws:s3:::{src}/manifest.csv", "ETag": etag}},
        Priority=10,
        RoleArn=f"arn:aws:iam::{ALICE.account}:role/batch",
        ClientRequestToken=str(uuid.uuid4()),
        Description="boto3 copy",
    )
    kwargs.update(over)
    return kwargs


@pytest.fixture()
def copy_setup(s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"obj/{i:03d}" for i in range(40)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    return src, dst, rep, s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]


def test_create_describe_run_to_complete(alice, s3, copy_setup):
    src, dst, rep, etag = copy_setup
    job_id = alice.create_job(**create_kwargs(src, dst, rep, etag))["JobId"]

    def done():
        job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
        return job if job["Status"] in ("Complete", "Failed", "Cancelled") else None

    job = wait_for(done, 120, 0.3, "the job to finish")
    assert job["Status"] == "Complete", job.get("FailureReasons")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 40
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 40
    assert job["Operation"]["S3PutObjectCopy"]["TargetResource"] == f"arn:aws:s3:::{dst}"
    assert job["Manifest"]["Spec"]["Fields"] == ["Bucket", "Key"]
    assert job["Report"]["Prefix"] == "reports"
    assert job["Description"] == "boto3 copy"
    assert job["CreationTime"].tzinfo is not None and job["TerminationDate"] >= job["CreationTime"]
    copied = s3.list_objects_v2(Bucket=dst)["KeyCount"]
    assert copied == 40


def test_priority_status_and_modeled_errors(alice, copy_setup):
    src, dst, rep, etag = copy_setup
    kwargs = create_kwargs(src, dst, rep, etag, ConfirmationRequired=True, Priority=3)
    job_id = alice.create_job(**kwargs)["JobId"]
    assert alice.create_job(**kwargs)["JobId"] == job_id  # same token, same request: same job

    with pytest.raises(alice.exceptions.IdempotencyException):
        alice.create_job(**{**kwargs, "Priority": 4})

    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Suspended",
             60, 0.2, "Suspended")
    answer = alice.update_job_priority(AccountId=ALICE.account, JobId=job_id, Priority=42)
    assert (answer["JobId"], answer["Priority"]) == (job_id, 42)
    assert alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Priority"] == 42

    with pytest.raises(alice.exceptions.NotFoundException):
        alice.describe_job(AccountId=ALICE.account, JobId=str(uuid.uuid4()))
    with pytest.raises(alice.exceptions.BadRequestException):
        alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Active")

    answer = alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled",
                                     StatusUpdateReason="not needed")
    assert answer["JobId"] == job_id and answer["Status"] in ("Cancelling", "Cancelled")
    assert answer["StatusUpdateReason"] == "not needed"
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Cancelled",
             60, 0.2, "Cancelled")
    with pytest.raises(alice.exceptions.JobStatusException):
        alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Ready")


def test_list_jobs_and_its_paginator(alice, copy_setup):
    src, dst, rep, etag = copy_setup
    marker = uuid.uuid4().hex[:8]
    created = {alice.create_job(**create_kwargs(src, dst, rep, etag, ConfirmationRequired=True,
                                                Description=f"page {marker} {i}"))["JobId"]
               for i in range(7)}
    wait_for(lambda: all(alice.describe_job(AccountId=ALICE.account, JobId=j)["Job"]["Status"] == "Suspended"
                         for j in created), 60, 0.3, "all Suspended")

    # botocore 1.44 ships no ListJobs paginator (paginators-1.json lists three others), so use its
    # Paginator class with the NextToken/MaxResults config, and also the plain NextToken loop users write.
    paginator = Paginator(alice.list_jobs, {"input_token": "NextToken", "output_token": "NextToken",
                                            "limit_key": "MaxResults", "result_key": "Jobs"},
                          alice.meta.service_model.operation_model("ListJobs"))
    pages = list(paginator.paginate(AccountId=ALICE.account, JobStatuses=["Suspended"],
                                    PaginationConfig={"PageSize": 3}))
    looped, token = [], None
    while True:
        page = alice.list_jobs(AccountId=ALICE.account, JobStatuses=["Suspended"], MaxResults=2,
                               **({"NextToken": token} if token else {}))
        looped += [j["JobId"] for j in page.get("Jobs", [])]
        token = page.get("NextToken")
        if not token:
            break
    assert created <= set(looped) and len(looped) == len(set(looped))
    seen = [j["JobId"] for p in pages for j in p.get("Jobs", [])]
    assert created <= set(seen) and len(seen) == len(set(seen))
    assert len(pages) >= 3 and all(len(p.get("Jobs", [])) <= 3 for p in pages)
    entry = next(j for p in pages for j in p["Jobs"] if j["JobId"] in created)
    assert entry["Operation"] == "S3PutObjectCopy" and entry["Status"] == "Suspended"
    assert entry["Description"].startswith(f"page {marker}")
    assert "TotalNumberOfTasks" in entry["ProgressSummary"]

    complete_only = alice.list_jobs(AccountId=ALICE.account, JobStatuses=["Complete"], MaxResults=1000)
    assert not created & {j["JobId"] for j in complete_only.get("Jobs", [])}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        alice.list_jobs(AccountId=ALICE.account, JobStatuses=["Sleeping"])
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for job_id in created:
        alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")

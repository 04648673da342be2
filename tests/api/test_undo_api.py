"""Undo through the S3 Control API with stock boto3: cosbatch:undoable on CreateJob, then a
CreateJob tagged cosbatch:undo-of=JOB_ID with the earlier job's Operation, Report and RoleArn."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest

from tests.api.conftest import ALICE
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest

OPERATION = {"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "archived"}]}}


def finished(alice, job_id: str) -> dict:
    def done():
        job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
        return job if job["Status"] in ("Complete", "Failed", "Cancelled") else None

    return wait_for(done, 120, 0.3, "the job to finish")


def test_undo_through_boto3(alice, s3, make_bucket):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"obj/{i}" for i in range(12)]
    put_objects(s3, src, keys)
    s3.put_object_tagging(Bucket=src, Key="obj/0", Tagging={"TagSet": [{"Key": "owner", "Value": "ana"}]})
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    same = dict(AccountId=ALICE.account, Operation=OPERATION, Priority=10,
                Report={"Bucket": f"arn:aws:s3:::{rep}", "Format": "Report_CSV_20180820", "Enabled": True,
                        "Prefix": "reports", "ReportScope": "AllTasks"},
                RoleArn=f"arn:aws:iam::{ALICE.account}:role/batch")
    job_id = alice.create_job(
        **same, ClientRequestToken=str(uuid.uuid4()), ConfirmationRequired=False,
        Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                  "Location": {"ObjectArn": f"arn:aws:s3:::{src}/manifest.csv", "ETag": etag}},
        Tags=[{"Key": "cosbatch:undoable", "Value": "true"}])["JobId"]
    assert finished(alice, job_id)["Status"] == "Complete"
    assert s3.get_object_tagging(Bucket=src, Key="obj/0")["TagSet"] == [{"Key": "stage", "Value": "archived"}]

    with pytest.raises(botocore.exceptions.ClientError) as refused:  # another operation: not this job's undo
        alice.create_job(**{**same, "Operation": {"S3DeleteObjectTagging": {}}}, ClientRequestToken=str(uuid.uuid4()),
                         ConfirmationRequired=False, Tags=[{"Key": "cosbatch:undo-of", "Value": job_id}])
    assert refused.value.response["Error"]["Code"] == "BadRequestException"  # S3 Control's name for InvalidRequest
    assert "Operation of an undo job" in refused.value.response["Error"]["Message"]

    undo_id = alice.create_job(**same, ClientRequestToken=str(uuid.uuid4()), ConfirmationRequired=False,
                               Tags=[{"Key": "cosbatch:undo-of", "Value": job_id}])["JobId"]
    undo = finished(alice, undo_id)
    assert undo["Status"] == "Complete" and undo["ProgressSummary"]["NumberOfTasksSucceeded"] == len(keys)
    assert undo["Manifest"]["Location"]["ObjectArn"].endswith(f"reports/job-{job_id}/undo-manifest.csv")
    assert s3.get_object_tagging(Bucket=src, Key="obj/0")["TagSet"] == [{"Key": "owner", "Value": "ana"}]
    assert all(s3.get_object_tagging(Bucket=src, Key=k)["TagSet"] == [] for k in keys[1:])

"""Undo through the S3 Control API with stock boto3: cosbatch:undoable on CreateJob, then a
CreateJob tagged cosbatch:undo-of=JOB_ID with the earlier job's Operation, Report and RoleArn."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest

from tests.api.conftest import ALICE
from tests.api.test_console_routes import basic, form_token, post_form
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest

OPERATION = {"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "archived"}]}}


def finished(alice, job_id: str) -> dict:
    def done():
        job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
        return job if job["Status"] in ("Complete", "Failed", "Cancelled") else None

    return wait_for(done, 120, 0.3, "the job to finish")


def undoable_job(alice, s3, make_bucket, keys: list[str], undoable: bool = True) -> tuple[str, str, dict]:
    """(source bucket, job id, the CreateJob fields an undo repeats) of a finished tagging job."""
    src, rep = make_bucket("src"), make_bucket("rep")
    put_objects(s3, src, keys)
    s3.put_object_tagging(Bucket=src, Key=keys[0], Tagging={"TagSet": [{"Key": "owner", "Value": "ana"}]})
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
        Tags=[{"Key": "cosbatch:undoable", "Value": "true"}] if undoable else [])["JobId"]
    assert finished(alice, job_id)["Status"] == "Complete"
    return src, job_id, same


def test_undo_through_boto3(alice, s3, make_bucket):
    keys = [f"obj/{i}" for i in range(12)]
    src, job_id, same = undoable_job(alice, s3, make_bucket, keys)
    assert s3.get_object_tagging(Bucket=src, Key="obj/0")["TagSet"] == [{"Key": "stage", "Value": "archived"}]

    with pytest.raises(botocore.exceptions.ClientError) as refused:  # another operation: not this job's undo
        alice.create_job(**{**same, "Operation": {"S3DeleteObjectTagging": {}}}, ClientRequestToken=str(uuid.uuid4()),
                         ConfirmationRequired=False, Tags=[{"Key": "cosbatch:undo-of", "Value": job_id}])
    assert refused.value.response["Error"]["Code"] == "BadRequestException"  # S3 Control's name for InvalidRequest
    assert "Operation of an undo job" in refused.value.response["Error"]["Message"]

    # As docs/undo-and-cost.md shows it: the earlier job's fields, copied from its DescribeJob.
    earlier = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
    undo_id = alice.create_job(
        AccountId=ALICE.account, ClientRequestToken=str(uuid.uuid4()), ConfirmationRequired=False, Priority=10,
        Operation=earlier["Operation"], Report=earlier["Report"], RoleArn=earlier["RoleArn"],
        Tags=[{"Key": "cosbatch:undo-of", "Value": job_id}])["JobId"]
    undo = finished(alice, undo_id)
    assert undo["Status"] == "Complete" and undo["ProgressSummary"]["NumberOfTasksSucceeded"] == len(keys)
    assert undo["Manifest"]["Location"]["ObjectArn"].endswith(f"reports/job-{job_id}/undo-manifest.csv")
    assert s3.get_object_tagging(Bucket=src, Key="obj/0")["TagSet"] == [{"Key": "owner", "Value": "ana"}]
    assert all(s3.get_object_tagging(Bucket=src, Key=k)["TagSet"] == [] for k in keys[1:])


def test_the_console_shows_undo_on_jobs_that_recorded_it_and_the_button_creates_the_undo(api, alice, s3,
                                                                                          make_bucket):
    keys = [f"con/{i}" for i in range(5)]
    src, job_id, _ = undoable_job(alice, s3, make_bucket, keys)
    _, plain_id, _ = undoable_job(alice, s3, make_bucket, ["p/0"], undoable=False)
    page = api.http.request("GET", api.url + f"/console/jobs/{job_id}", headers=basic(ALICE)).data.decode()
    assert "id='undo-form'" in page and "id='undo-form' data-confirm=" in page and ">Undo</button>" in page
    assert " hidden>" not in page.split("id='undo-form'", 1)[1].split("</form>", 1)[0]  # a finished job: shown
    plain = api.http.request("GET", api.url + f"/console/jobs/{plain_id}", headers=basic(ALICE)).data.decode()
    assert "undo-form" not in plain.split("<script", 1)[0]

    answer = post_form(api, {"token": form_token(api)}, path=f"/console/jobs/{job_id}/undo")
    assert answer.status == 303
    undo_id = urlsplit(answer.headers["Location"]).path.rsplit("/", 1)[1]
    assert undo_id != job_id
    undo = finished(alice, undo_id)
    assert undo["Status"] == "Complete" and undo["Description"] == f"undo of job {job_id}"
    assert s3.get_object_tagging(Bucket=src, Key="con/0")["TagSet"] == [{"Key": "owner", "Value": "ana"}]
    assert all(s3.get_object_tagging(Bucket=src, Key=k)["TagSet"] == [] for k in keys[1:])
    refused = post_form(api, {"token": form_token(api)}, path=f"/console/jobs/{plain_id}/undo")
    assert refused.status == 303 and "did not record undo" in parse_qs(urlsplit(refused.headers["Location"]).query)["err"][0]

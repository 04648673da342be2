"""S3PutObjectRetention and S3PutObjectLegalHold through stock boto3 against `cosbatch serve`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import ALICE
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import wait_for
from tests.integration.test_object_lock_operations import locked_bucket


def test_retention_and_legal_hold_jobs_over_boto3(alice, s3, make_bucket):
    keys = [f"k{i}" for i in range(10)]
    src, rep = locked_bucket(s3, keys, "manifest.csv"), make_bucket("rep")
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    until = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)

    def run(operation: dict) -> dict:
        job_id = alice.create_job(**create_kwargs(src, src, rep, etag, Operation=operation))["JobId"]

        def done():
            job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
            return job if job["Status"] in ("Complete", "Failed", "Cancelled") else None

        return wait_for(done, 120, 0.3, "the job to finish")

    job = run({"S3PutObjectRetention": {"BypassGovernanceRetention": False,
                                        "Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": until}}})
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 10
    described = job["Operation"]["S3PutObjectRetention"]["Retention"]
    assert described["Mode"] == "COMPLIANCE" and described["RetainUntilDate"] == until
    for key in keys:
        retention = s3.get_object_retention(Bucket=src, Key=key)["Retention"]
        assert retention["Mode"] == "COMPLIANCE" and retention["RetainUntilDate"].astimezone(UTC) == until

    job = run({"S3PutObjectLegalHold": {"LegalHold": {"Status": "ON"}}})
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 10
    assert all(s3.get_object_legal_hold(Bucket=src, Key=k)["LegalHold"]["Status"] == "ON" for k in keys)

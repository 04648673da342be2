"""`cosbatch serve --storage-config`: jobs bind to their role's storage over the API, an account
outside a storage's `accounts` gets 403, and the XML answers carry only what their specs define."""

from __future__ import annotations

import uuid

import botocore.exceptions
import pytest

from tests.api.conftest import ALICE, BOB
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest
from tests.support.api_server import start_api_server


@pytest.fixture(scope="module")
def bound_api(tmp_path_factory, s3_server):
    workdir = tmp_path_factory.mktemp("bound")
    config = workdir / "storages.toml"
    config.write_text(
        f'[storage.main]\nendpoint_url = "{s3_server.endpoint_url}"\nregion = "us-east-1"\n'
        f'accounts = ["{ALICE.account}"]\ndefault = true\n'
    )
    server = start_api_server(workdir, s3_server.endpoint_url, [ALICE, BOB], "--storage-config", str(config))
    yield server
    server.stop()


def test_jobs_bind_by_role_and_other_accounts_are_refused(bound_api, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, [f"k{i}" for i in range(5)])
    write_manifest(s3, src, "manifest.csv", [(src, f"k{i}") for i in range(5)])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    alice = bound_api.s3control(ALICE)
    job_id = alice.create_job(**create_kwargs(src, dst, rep, etag, RoleArn=f"arn:aws:iam::{ALICE.account}:role/main"))[
        "JobId"]
    job = wait_for(lambda: (j := alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"])["Status"]
                   in ("Complete", "Failed") and j, 120, 0.3, "the job to finish")
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 5
    raw = bound_api.request("GET", f"/v20180820/jobs/{job_id}", headers={"x-amz-account-id": ALICE.account},
                            sign_with=ALICE)
    assert raw.status == 200 and b"<Status>Complete</Status>" in raw.data
    assert b"<Storage>" not in raw.data and b"<MaxOpsPerSecond>" not in raw.data  # cosbatch's binding is not an S3 Control element
    bob = bound_api.s3control(BOB)
    kwargs = create_kwargs(src, dst, rep, etag, AccountId=BOB.account, ClientRequestToken=str(uuid.uuid4()),
                           RoleArn=f"arn:aws:iam::{BOB.account}:role/main")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        bob.create_job(**kwargs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "may not use storage 'main'" in err.value.response["Error"]["Message"]

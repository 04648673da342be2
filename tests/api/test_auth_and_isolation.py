"""Requests must be signed by a configured key, for that key's own account; accounts never see
each other's jobs; running without authentication has to be asked for."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.api.conftest import ALICE, BOB
from tests.support.api_server import Key, free_port, start_api_server

SUSPENDED_JOB = (
    "<CreateJobRequest xmlns='http://awss3control.amazonaws.com/doc/2018-08-20/'>"
    "<ClientRequestToken>{token}</ClientRequestToken><ConfirmationRequired>true</ConfirmationRequired>"
    "<Description>{description}</Description>"
    "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member>"
    "<member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::nowhere-{token}/m.csv</ObjectArn>"
    "<ETag>x</ETag></Location></Manifest>"
    "<Operation><S3DeleteObjectTagging/></Operation><Priority>1</Priority>"
    "<Report><Enabled>false</Enabled></Report><RoleArn>arn:aws:iam::{account}:role/r</RoleArn></CreateJobRequest>"
)


def code(response) -> str:
    return ET.fromstring(response.data).findtext("Code")


def create(api, key: Key, description: str = "isolation") -> str:
    body = SUSPENDED_JOB.format(token=uuid.uuid4().hex, description=description, account=key.account).encode()
    answer = api.request("POST", "/v20180820/jobs", body=body, headers={"x-amz-account-id": key.account},
                         sign_with=key)
    assert answer.status == 200, answer.data
    return ET.fromstring(answer.data).findtext("{*}JobId")


def test_unsigned_and_wrongly_signed_requests_are_denied(api):
    headers = {"x-amz-account-id": ALICE.account}
    unsigned = api.request("GET", "/v20180820/jobs", headers=headers)
    assert unsigned.status == 403 and code(unsigned) == "AccessDenied"
    wrong_secret = api.request("GET", "/v20180820/jobs", headers=headers,
                               sign_with=Key(ALICE.account, ALICE.key_id, "not-the-secret"))
    assert wrong_secret.status == 403 and code(wrong_secret) == "AccessDenied"
    unknown_key = api.request("GET", "/v20180820/jobs", headers=headers,
                              sign_with=Key(ALICE.account, "AKIDNOBODY00000000", "x"))
    assert unknown_key.status == 403 and code(unknown_key) == "AccessDenied"
    cos_wrong = api.cos_request("GET", "/jobs", Key(ALICE.account, ALICE.key_id, "bad"))
    assert cos_wrong.status == 403 and code(cos_wrong) == "AccessDenied"
    # A body changed after signing no longer matches its signature.
    body = SUSPENDED_JOB.format(token="t", description="d", account=ALICE.account).encode()
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=api.url + "/v20180820/jobs", data=body, headers=headers)
    S3SigV4Auth(Credentials(ALICE.key_id, ALICE.secret), "s3", "us-east-1").add_auth(req)
    tampered = api.http.request("POST", api.url + "/v20180820/jobs", body=body.replace(b"<Priority>1",
                                b"<Priority>9"), headers=dict(req.headers.items()))
    assert tampered.status == 403 and code(tampered) == "AccessDenied"


def test_a_key_acts_only_for_its_own_account(api):
    as_bob = api.request("GET", "/v20180820/jobs", headers={"x-amz-account-id": BOB.account}, sign_with=ALICE)
    assert as_bob.status == 403 and code(as_bob) == "AccessDenied"
    cos_as_bob = api.cos_request("GET", "/jobs", ALICE, appid=BOB.account)
    assert cos_as_bob.status == 403 and code(cos_as_bob) == "AccessDenied"


def test_accounts_cannot_see_or_change_each_others_jobs(api, alice, bob):
    alices = create(api, ALICE, "alice's job")
    bobs = create(api, BOB, "bob's job")
    with pytest.raises(bob.exceptions.NotFoundException):
        bob.describe_job(AccountId=BOB.account, JobId=alices)
    with pytest.raises(bob.exceptions.NotFoundException):
        bob.update_job_priority(AccountId=BOB.account, JobId=alices, Priority=99)
    with pytest.raises(bob.exceptions.NotFoundException):
        bob.update_job_status(AccountId=BOB.account, JobId=alices, RequestedJobStatus="Cancelled")
    bob_sees = {j["JobId"] for j in bob.list_jobs(AccountId=BOB.account, MaxResults=1000)["Jobs"]}
    alice_sees = {j["JobId"] for j in alice.list_jobs(AccountId=ALICE.account, MaxResults=1000)["Jobs"]}
    assert bobs in bob_sees and alices not in bob_sees
    assert alices in alice_sees and bobs not in alice_sees
    cos_bob = api.cos_request("GET", f"/jobs/{alices}", BOB)
    assert cos_bob.status == 404 and code(cos_bob) == "NoSuchJob"
    assert alice.describe_job(AccountId=ALICE.account, JobId=alices)["Job"]["Priority"] == 1  # untouched


def test_no_keys_and_no_dev_flag_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COSBATCH_ACCESS_KEYS"}
    env["HOME"] = str(tmp_path)  # no ~/.cosbatch/access-keys either
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{tmp_path}/s.db",
                           "serve", "--port", str(free_port())], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "no access keys are configured" in proc.stderr and "--no-auth" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dev_mode_must_be_asked_for_and_then_accepts_unsigned(tmp_path, s3_server):
    server = start_api_server(tmp_path, s3_server.endpoint_url, [], "--no-auth")
    try:
        job = create(server, Key("123456789012", "unused", "unused"))
        listed = server.request("GET", "/v20180820/jobs", headers={"x-amz-account-id": "123456789012"})
        assert listed.status == 200 and job.encode() in listed.data
        assert "auth off (--no-auth)" in server.log()
    finally:
        server.stop()

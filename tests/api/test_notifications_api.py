"""`cosbatch serve --notify-allow`: CreateJob and PutJobTagging over the S3 Control API refuse a
notify URL the server does not allow, naming the tag; an allowed one gets the signed POST."""

from __future__ import annotations

import botocore.exceptions
import pytest

from cosbatch.controller.notify_policy import signature
from tests.api.conftest import ALICE
from tests.api.test_job_tags import setup  # noqa: F401  (a fixture)
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import wait_for
from tests.support.api_server import start_api_server
from tests.support.receiver import Receiver

SECRET = "serve-notify-secret"


@pytest.fixture()
def receiver():
    with Receiver().start() as r:
        yield r


@pytest.fixture()
def notifying_api(tmp_path, s3_server, receiver, monkeypatch):
    monkeypatch.setenv("COSBATCH_NOTIFY_SECRET", SECRET)
    server = start_api_server(tmp_path / "serve", s3_server.endpoint_url, [ALICE],
                              "--notify-allow", f"{receiver.url}/hooks")
    yield server
    server.stop()


def test_serve_refuses_urls_it_does_not_allow_and_notifies_allowed_ones(notifying_api, receiver, setup):  # noqa: F811
    alice = notifying_api.s3control(ALICE)
    for url in ("http://169.254.169.254/latest/meta-data", f"{receiver.url}/other"):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            alice.create_job(**create_kwargs(*setup, Tags=[{"Key": "cosbatch:notify-url", "Value": url}]))
        error = refused.value.response["Error"]
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "job tag cosbatch:notify-url" in error["Message"] and "not allowed" in error["Message"]

    url = f"{receiver.url}/hooks/done"
    job_id = alice.create_job(**create_kwargs(*setup, Tags=[{"Key": "cosbatch:notify-url", "Value": url}]))["JobId"]
    with pytest.raises(botocore.exceptions.ClientError, match="cosbatch:notify-url"):
        alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id,
                              Tags=[{"Key": "cosbatch:notify-url", "Value": "http://10.1.2.3/"}])
    post = wait_for(lambda: receiver.posts and receiver.posts[0], 120, what="the notification",
                    state=notifying_api.log)
    assert post.path == "/hooks/done"
    assert post.headers["x-cosbatch-signature"] == signature(SECRET.encode(), post.body)
    assert post.json["JobId"] == job_id and post.json["Status"] == "Complete"

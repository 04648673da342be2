"""Workers that cannot open the store report over the controller's HTTP worker channel
(`cosbatch serve --worker-control http`), each with a token good for its own job only."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.conftest import ALICE
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest
from tests.support.api_server import start_api_server


@pytest.fixture(scope="module")
def channel_server(tmp_path_factory, s3_server):
    server = start_api_server(tmp_path_factory.mktemp("channel"), s3_server.endpoint_url, [ALICE],
                              "--worker-control", "http",
                              "--runner-option", "direct_running_mode=multi_processing",
                              "--runner-option", "direct_num_workers=2")
    yield server
    server.stop()


def test_multiprocess_workers_report_over_http(channel_server, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"w/{i:04d}" for i in range(450)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    client = channel_server.s3control(ALICE)
    job_id = client.create_job(**create_kwargs(src, dst, rep, etag))["JobId"]
    job = wait_for(lambda: (j := client.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"])["Status"]
                   in ("Complete", "Failed") and j, 180, 0.5, "the job to finish")
    assert job["Status"] == "Complete", job.get("FailureReasons")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 450
    assert s3.list_objects_v2(Bucket=dst, MaxKeys=1000)["KeyCount"] == 450
    log = channel_server.log()
    assert f"worker_segment_update job_id={job_id}" in log  # 5 segments of 100 went over HTTP
    assert log.count(f"worker_segment_update job_id={job_id} segment=") >= 5


def test_tokens_are_per_job(channel_server):
    url = channel_server.url + f"/internal/v1/jobs/{uuid.uuid4()}/status"
    assert channel_server.http.request("GET", url).status == 403
    assert channel_server.http.request("GET", url, headers={"Authorization": "Bearer " + "0" * 64}).status == 403
    body = json.dumps({"State": "done", "Succeeded": 1, "Failed": 0, "Retries": 0}).encode()
    put = channel_server.http.request("PUT", channel_server.url + f"/internal/v1/jobs/{uuid.uuid4()}/segments/0",
                                      body=body, headers={"Authorization": "Bearer nope"})
    assert put.status == 403 and json.loads(put.data)["Code"] == "AccessDenied"


def test_channel_is_off_unless_asked_for(api):
    answer = api.http.request("GET", api.url + f"/internal/v1/jobs/{uuid.uuid4()}/status")
    assert answer.status == 404

"""A corpus of malformed and hostile requests: every one gets a 4xx XML error, never a 500 or a
traceback, and the server keeps answering."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.api.conftest import ALICE

NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"


def job_xml(operation: str = "<S3DeleteObjectTagging/>", priority: str = "5", extra: str = "",
            manifest: str | None = None) -> str:
    manifest = manifest if manifest is not None else (
        "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member>"
        "<member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::b/m.csv</ObjectArn>"
        "<ETag>e</ETag></Location></Manifest>")
    return (f"<CreateJobRequest xmlns='{NS}'><ClientRequestToken>{uuid.uuid4().hex}</ClientRequestToken>"
            f"{manifest}<Operation>{operation}</Operation><Priority>{priority}</Priority>"
            "<Report><Enabled>false</Enabled></Report>"
            f"<RoleArn>arn:aws:iam::{ALICE.account}:role/r</RoleArn>{extra}</CreateJobRequest>")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<CreateJobRequest><Description>&lol9;</Description></CreateJobRequest>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CreateJobRequest><Description>&xxe;</Description></CreateJobRequest>"""

CREATE_CORPUS = {
    "not xml": (b"this is not xml", 400, "BadRequestException"),
    "truncated xml": (job_xml().encode()[:-20], 400, "BadRequestException"),
    "empty body": (b"", 400, "BadRequestException"),
    "wrong root": (b"<ListJobsRequest/>", 400, "BadRequestException"),
    "billion laughs": (BILLION_LAUGHS.encode(), 400, "BadRequestException"),
    "external entity": (EXTERNAL_ENTITY.encode(), 400, "BadRequestException"),
    "oversize body": (job_xml(extra="<Description>" + "x" * (2 * 1024 * 1024) + "</Description>").encode(),
                      413, "EntityTooLarge"),
    "priority not a number": (job_xml(priority="high").encode(), 400, "BadRequestException"),
    "priority out of range": (job_xml(priority="2147483648").encode(), 400, "BadRequestException"),
    "negative priority": (job_xml(priority="-3").encode(), 400, "BadRequestException"),
    "boolean not a boolean": (job_xml(extra="<ConfirmationRequired>maybe</ConfirmationRequired>").encode(),
                              400, "BadRequestException"),
    "unknown operation": (job_xml("<S3TeleportObject/>").encode(), 400, "BadRequestException"),
    "two operations": (job_xml("<S3DeleteObjectTagging/><S3PutObjectTagging><TagSet/></S3PutObjectTagging>")
                       .encode(), 400, "BadRequestException"),
    "no operation": (job_xml("").encode(), 400, "BadRequestException"),
    "element twice": (job_xml(extra="<Priority>6</Priority>").encode(), 400, "BadRequestException"),
    "unknown element": (job_xml(extra="<Sneaky>1</Sneaky>").encode(), 400, "BadRequestException"),
    "nested where a value belongs": (job_xml(priority="<x>1</x>").encode(), 400, "BadRequestException"),
    "no manifest": (job_xml(manifest="").encode(), 400, "BadRequestException"),
    "bad manifest arn": (job_xml(manifest="<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>"
                                 "</Spec><Location><ObjectArn>../../etc/passwd</ObjectArn><ETag>e</ETag>"
                                 "</Location></Manifest>").encode(), 400, "BadRequestException"),
    "unknown manifest format": (job_xml(manifest="<Manifest><Spec><Format>YAML</Format></Spec><Location>"
                                        "<ObjectArn>arn:aws:s3:::b/m</ObjectArn><ETag>e</ETag></Location>"
                                        "</Manifest>").encode(), 400, "BadRequestException"),
    "list members mis-named": (job_xml(manifest="<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>"
                                       "<Fields><field>Bucket</field></Fields></Spec><Location><ObjectArn>"
                                       "arn:aws:s3:::b/m</ObjectArn><ETag>e</ETag></Location></Manifest>").encode(),
                               400, "BadRequestException"),
    "report prefix escapes": (job_xml().replace("<Report><Enabled>false</Enabled></Report>",
                                                "<Report><Enabled>true</Enabled><Bucket>arn:aws:s3:::r</Bucket>"
                                                "<Format>Report_CSV_20180820</Format><Prefix>../../x</Prefix>"
                                                "</Report>").encode(), 400, "BadRequestException"),
    "invalid utf-8": (job_xml().encode().replace(b"<Priority>", b"<Priority>\xff\xfe"), 400,
                      "BadRequestException"),
}


def error_of(response) -> tuple[int, str, str]:
    assert response.headers["Content-Type"].startswith("application/xml"), response.data[:200]
    assert b"Traceback" not in response.data
    root = ET.fromstring(response.data)
    assert root.tag == "Error" and root.findtext("Message") and root.findtext("RequestId")
    return response.status, root.findtext("Code"), root.findtext("Message")


@pytest.mark.parametrize("case", sorted(CREATE_CORPUS))
def test_create_job_corpus(api, case):
    body, status, code = CREATE_CORPUS[case]
    answer = api.request("POST", "/v20180820/jobs", body=body, headers={"x-amz-account-id": ALICE.account},
                         sign_with=ALICE)
    got_status, got_code, message = error_of(answer)
    assert (got_status, got_code) == (status, code), message
    assert "root:" not in message  # nothing of /etc/passwd


@pytest.mark.parametrize("method,path,query", [
    ("GET", "/v20180820/jobs/not a job!", None),
    ("GET", "/v20180820/jobs/" + "a" * 200, None),
    ("GET", "/v20180820/jobs/..%2F..%2Fetc", None),
    ("POST", "/v20180820/jobs/{job}/priority", {"priority": "1e9"}),
    ("POST", "/v20180820/jobs/{job}/priority", {"priority": "99999999999999999999"}),
    ("POST", "/v20180820/jobs/{job}/priority", None),
    ("POST", "/v20180820/jobs/{job}/status", {"requestedJobStatus": "Complete"}),
    ("POST", "/v20180820/jobs/{job}/status", {"requestedJobStatus": "Cancelled", "statusUpdateReason": "r" * 300}),
    ("GET", "/v20180820/jobs", {"maxResults": "5000"}),
    ("GET", "/v20180820/jobs", {"maxResults": "ten"}),
    ("GET", "/v20180820/jobs", {"nextToken": "garbage-token"}),
    ("GET", "/v20180820/jobs", {"jobStatuses": "Sleeping"}),
    ("DELETE", "/v20180820/jobs", None),
    ("PUT", "/v20180820/jobs/{job}/priority", None),
    ("GET", "/v20180820/elsewhere", None),
])
def test_other_calls_corpus(api, alice, method, path, query):
    if "{job}" in path:
        job = alice.list_jobs(AccountId=ALICE.account, MaxResults=1).get("Jobs") or []
        path = path.replace("{job}", job[0]["JobId"] if job else str(uuid.uuid4()))
    answer = api.request(method, path, query=query, headers={"x-amz-account-id": ALICE.account}, sign_with=ALICE)
    status, _, message = error_of(answer)
    assert 400 <= status < 500, (status, message)


def test_server_survives_the_corpus(api, alice):
    for body, _, _ in CREATE_CORPUS.values():
        api.request("POST", "/v20180820/jobs", body=body, headers={"x-amz-account-id": ALICE.account},
                    sign_with=ALICE)
    assert api.alive()
    assert "Jobs" in alice.list_jobs(AccountId=ALICE.account, MaxResults=5)
    assert "Traceback" not in api.log()

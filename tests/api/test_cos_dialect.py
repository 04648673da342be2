"""The COS dialect at /jobs: the documentation's CreateJob body, COS XML answers and error codes,
requests signed by Tencent's own COS SDK signer."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.api.conftest import ALICE
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest

SAMPLE = Path(__file__).parent / "data" / "cos_create_job.xml"


def xml(response) -> ET.Element:
    root = ET.fromstring(response.data)
    assert "}" not in root.tag, "COS answers carry no XML namespace"
    return root


def sample_body(src: str, dst: str, rep: str, etag: str) -> bytes:
    text = SAMPLE.read_text()
    for name, value in (("SRC", src), ("DST", dst), ("REP", rep), ("APPID", ALICE.account),
                        ("ETAG", etag), ("TOKEN", str(uuid.uuid4()))):
        text = text.replace("{" + name + "}", value)
    return text.encode()


@pytest.fixture()
def cos_job(api, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"obj/{i:02d}.txt" for i in range(12)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"].strip('"')
    answer = api.cos_request("POST", "/jobs", ALICE, body=sample_body(src, dst, rep, etag))
    assert answer.status == 200, answer.data
    root = xml(answer)
    assert root.tag == "CreateJobResult"
    return root.findtext("JobId"), dst, keys


def test_sample_create_job_runs_and_describes_in_cos_xml(api, s3, cos_job):
    job_id, dst, keys = cos_job

    def describe() -> ET.Element:
        answer = api.cos_request("GET", f"/jobs/{job_id}", ALICE)
        assert answer.status == 200, answer.data
        return xml(answer)

    root = wait_for(lambda: (r := describe()).findtext("Job/Status") in ("Complete", "Failed") and r,
                    120, 0.3, "the COS job to finish")
    assert root.tag == "DescribeJobResult"
    job = root.find("Job")
    assert job.findtext("Status") == "Complete", ET.tostring(job)
    assert job.findtext("JobId") == job_id
    assert job.findtext("Manifest/Spec/Format") == "COSBatchOperations_CSV_V1"
    assert [m.text for m in job.findall("Manifest/Spec/Fields/member")] == ["Bucket", "Key"]
    copy = job.find("Operation/COSPutObjectCopy")
    assert copy is not None and job.find("Operation/S3PutObjectCopy") is None
    assert copy.findtext("AccessControlGrants/COSGrant/Grantee/Identifier") == "100000000001"
    assert copy.findtext("NewObjectMetadata/UserMetadata/member/Key") == "origin"
    assert copy.findtext("NewObjectMetadata/UserMetadata/member/Value") == "cos-batch"
    assert job.findtext("Report/Format") == "Report_CSV_V1"
    assert job.findtext("ProgressSummary/NumberOfTasksSucceeded") == str(len(keys))
    assert job.findtext("ProgressSummary/TotalNumberOfTasks") == str(len(keys))

    copied = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"])
    assert copied == sorted("copied/" + k.removeprefix("obj/") for k in keys)  # COS prefix replacement
    head = s3.head_object(Bucket=dst, Key=copied[0])
    assert head["Metadata"] == {"origin": "cos-batch"} and head["ContentType"] == "text/plain"


def test_list_priority_status_and_cos_errors(api, cos_job):
    job_id, _, _ = cos_job
    wait_for(lambda: xml(api.cos_request("GET", f"/jobs/{job_id}", ALICE)).findtext("Job/Status") == "Complete",
             120, 0.3, "Complete")

    listed = xml(api.cos_request("GET", "/jobs", ALICE, query={"jobStatuses": "Complete", "maxResults": "1000"}))
    assert listed.tag == "ListJobsResult"
    entry = next(m for m in listed.findall("Jobs/member") if m.findtext("JobId") == job_id)
    assert entry.findtext("Operation") == "COSPutObjectCopy" and entry.findtext("Status") == "Complete"

    answer = xml(api.cos_request("POST", f"/jobs/{job_id}/priority", ALICE, query={"priority": "77"}))
    assert (answer.tag, answer.findtext("JobId"), answer.findtext("Priority")) == ("UpdateJobPriorityResult",
                                                                                   job_id, "77")

    refused = api.cos_request("POST", f"/jobs/{job_id}/status", ALICE, query={"requestedJobStatus": "Cancelled"})
    assert refused.status == 409 and xml(refused).findtext("Code") == "JobStatusException"
    missing = api.cos_request("GET", f"/jobs/{uuid.uuid4()}", ALICE)
    assert missing.status == 404 and xml(missing).findtext("Code") == "NoSuchJob"
    malformed = api.cos_request("POST", "/jobs", ALICE, body=b"<CreateJobRequest><Priority>1</Prio")
    assert malformed.status == 400 and xml(malformed).findtext("Code") == "MalformedXML"
    bad_priority = api.cos_request("POST", f"/jobs/{job_id}/priority", ALICE, query={"priority": "-1"})
    assert bad_priority.status == 400 and xml(bad_priority).findtext("Code") == "InvalidRequest"
    assert xml(bad_priority).findtext("RequestId")


def test_failed_job_lists_its_failures_as_cos_job_failure_elements(api, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    body = sample_body(src, dst, rep, "no-such-etag")  # the manifest.csv does not exist
    answer = api.cos_request("POST", "/jobs", ALICE, body=body)
    assert answer.status == 200, answer.data
    job_id = xml(answer).findtext("JobId")
    job = wait_for(lambda: (j := xml(api.cos_request("GET", f"/jobs/{job_id}", ALICE)).find("Job"))
                   .findtext("Status") == "Failed" and j, 60, 0.3, "Failed")
    failures = job.findall("FailureReasons/JobFailure")
    assert failures and failures[0].findtext("FailureCode") and failures[0].findtext("FailureReason")
    assert job.find("FailureReasons/member") is None

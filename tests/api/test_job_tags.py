"""Job tags over both dialects: stock boto3 (CreateJob Tags, Put/Get/DeleteJobTagging, AWS's limits
as modeled errors) and the COS dialect at /jobs/<id>/tagging (the same shapes, no namespace)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.api.conftest import ALICE, BOB
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import put_objects
from tests.integration.helpers import write_manifest
from tests.support.api_server import _strip_account_prefix


def unvalidated(api, key):
    """boto3 without its client-side checks (it refuses an empty key itself), so the server's are seen."""
    client = boto3.client("s3control", endpoint_url=api.url, region_name="us-east-1",
                          aws_access_key_id=key.key_id, aws_secret_access_key=key.secret,
                          config=Config(parameter_validation=False))
    client.meta.events.register("before-sign.s3-control", _strip_account_prefix)
    return client


@pytest.fixture()
def setup(s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "manifest.csv", [(src, "a"), (src, "b")])
    return src, dst, rep, s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]


def tags(n: int) -> list[dict]:
    return [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(n)]


def test_create_with_tags_then_put_get_delete(alice, setup):
    job_id = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True,
                                              Tags=[{"Key": "team", "Value": "data"},
                                                    {"Key": "cost-center", "Value": ""}]))["JobId"]
    got = alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"]
    assert got == [{"Key": "team", "Value": "data"}, {"Key": "cost-center", "Value": ""}]
    assert "Tags" not in alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]  # not in the XML shape

    alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=[{"Key": "team", "Value": "ml"}])
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"] == [{"Key": "team", "Value": "ml"}]
    alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=tags(50))  # exactly the limit
    assert len(alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"]) == 50

    alice.delete_job_tagging(AccountId=ALICE.account, JobId=job_id)
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id).get("Tags", []) == []
    alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=tags(2))
    alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=[])  # an empty set removes them too
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id).get("Tags", []) == []
    alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")


def test_limits_are_modeled_errors(api, alice, bob, setup):
    raw = unvalidated(api, ALICE)
    job_id = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True, Tags=tags(1)))["JobId"]
    with pytest.raises(alice.exceptions.TooManyTagsException) as err:
        alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=tags(51))
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "at most 50 tags" in err.value.response["Error"]["Message"]
    with pytest.raises(alice.exceptions.TooManyTagsException):
        alice.create_job(**create_kwargs(*setup, Tags=tags(51)))
    for bad, words in (([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "more than once"),
                       ([{"Key": "k" * 129, "Value": "v"}], "Key"),
                       ([{"Key": "k", "Value": "v" * 257}], "Value"),
                       ([{"Key": "", "Value": "v"}], "Key"),
                       ([{"Key": "a?b", "Value": "v"}], "only letters")):
        with pytest.raises(raw.exceptions.BadRequestException) as err:
            raw.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=bad)
        assert words in err.value.response["Error"]["Message"]
        with pytest.raises(raw.exceptions.BadRequestException):
            raw.create_job(**create_kwargs(*setup, Tags=bad))
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"] == tags(1)  # unchanged
    alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=[{"Key": "k" * 128, "Value": "v" * 256}])

    # another account's job, or none at all: NotFound, on every call
    for call in (lambda: bob.get_job_tagging(AccountId=BOB.account, JobId=job_id),
                 lambda: bob.put_job_tagging(AccountId=BOB.account, JobId=job_id, Tags=tags(1)),
                 lambda: bob.delete_job_tagging(AccountId=BOB.account, JobId=job_id),
                 lambda: alice.get_job_tagging(AccountId=ALICE.account, JobId="no-such-job-0000")):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "NotFoundException"
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"][0]["Key"] == "k" * 128
    alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")


def test_cos_dialect_tagging(api, alice, setup):
    job_id = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True))["JobId"]
    body = (b"<PutJobTaggingRequest><Tags><member><Key>team</Key><Value>cos</Value></member></Tags>"
            b"</PutJobTaggingRequest>")
    assert api.cos_request("PUT", f"/jobs/{job_id}/tagging", ALICE, body=body).status == 200
    answer = api.cos_request("GET", f"/jobs/{job_id}/tagging", ALICE)
    root = ET.fromstring(answer.data)
    assert answer.status == 200 and root.tag == "GetJobTaggingResult"  # no namespace in COS answers
    assert [(m.findtext("Key"), m.findtext("Value")) for m in root.iter("member")] == [("team", "cos")]
    too_many = b"".join(b"<member><Key>k%d</Key><Value>v</Value></member>" % i for i in range(51))
    answer = api.cos_request("PUT", f"/jobs/{job_id}/tagging", ALICE,
                             body=b"<PutJobTaggingRequest><Tags>" + too_many + b"</Tags></PutJobTaggingRequest>")
    assert answer.status == 400 and ET.fromstring(answer.data).findtext("Code") == "TooManyTags"
    answer = api.cos_request("PUT", f"/jobs/{job_id}/tagging", ALICE,
                             body=b"<PutJobTaggingRequest><Tagz/></PutJobTaggingRequest>")
    assert answer.status == 400 and b"Tagz" in answer.data
    assert api.cos_request("DELETE", f"/jobs/{job_id}/tagging", ALICE).status == 200
    root = ET.fromstring(api.cos_request("GET", f"/jobs/{job_id}/tagging", ALICE).data)
    assert list(root.iter("member")) == []
    alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")


def test_console_shows_tags_and_filters_by_them(api, alice, setup):
    import base64

    marker = uuid.uuid4().hex[:8]
    tagged = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True,
                                              Tags=[{"Key": "batch", "Value": marker}]))["JobId"]
    other = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True,
                                             Tags=[{"Key": "batch", "Value": "other"}]))["JobId"]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{ALICE.key_id}:{ALICE.secret}".encode()).decode()}
    page = api.request("GET", f"/console/jobs/{tagged}", headers=auth).data.decode()
    assert f"<span class='tag mono'>batch={marker}</span>" in page
    listed = api.request("GET", "/console/jobs", headers=auth, query={"tag": f"batch={marker}"}).data.decode()
    assert tagged in listed and other not in listed and f"value='batch={marker}'" in listed
    listed = api.request("GET", "/console/jobs", headers=auth, query={"tag": "batch"}).data.decode()
    assert tagged in listed and other in listed  # a key alone: any value
    listed = api.request("GET", "/console/jobs", headers=auth, query={"tag": "batch=nope"}).data.decode()
    assert tagged not in listed and "No jobs match." in listed
    for job_id in (tagged, other):
        alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")


def test_cosbatch_tags_over_boto3(alice, setup):
    with pytest.raises(alice.exceptions.BadRequestException) as err:
        alice.create_job(**create_kwargs(*setup, Tags=[{"Key": "cosbatch:no-such-option", "Value": "1"}]))
    assert "unknown job tag 'cosbatch:no-such-option'" in err.value.response["Error"]["Message"]
    job_id = alice.create_job(**create_kwargs(*setup, ConfirmationRequired=True,
                                              Tags=[{"Key": "cosbatch:max-ops-per-second", "Value": "30"}]))["JobId"]
    with pytest.raises(alice.exceptions.BadRequestException) as err:
        alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id,
                              Tags=[{"Key": "cosbatch:failure-threshold", "Value": "0"}])
    assert "job tag cosbatch:failure-threshold" in err.value.response["Error"]["Message"]
    with pytest.raises(alice.exceptions.BadRequestException) as err:
        alice.put_job_tagging(AccountId=ALICE.account, JobId=job_id, Tags=[{"Key": "cosbatch:typo", "Value": ""}])
    assert "cosbatch:typo" in err.value.response["Error"]["Message"]
    assert alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"] == [
        {"Key": "cosbatch:max-ops-per-second", "Value": "30"}]
    alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")

"""The API's pure parts: XML shapes both ways, and signature verification against stock signers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cosbatch.api.auth import AccessDenied, AccessKey, SignedRequest, parse_access_keys, verify
from cosbatch.errors import ConfigError, InvalidRequest, MalformedRequest
from cosbatch.models import Dialect
from cosbatch.wire.shapes import S3_NAMESPACE, shapes_for
from cosbatch.wire.xml_codec import decode, document, parse_document

KEYS = {"AKID1": AccessKey("111122223333", "AKID1", "s3cr3t")}


def roundtrip(dialect: Dialect, shape: str, value: dict) -> dict:
    shapes = shapes_for(dialect)
    body = document(shape, value, shape, shapes, None)
    return decode(parse_document(body, shape), shape, shapes)


def test_create_job_request_roundtrips_in_both_dialects():
    value = {
        "ClientRequestToken": "t", "ConfirmationRequired": True, "Priority": 7, "DryRun": False,
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": "arn:aws:s3:::b/m.csv", "ETag": "e"}},
        "Operation": {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::d", "NewObjectMetadata": {
            "UserMetadata": {"a": "1", "b": "<&>"}}, "NewObjectTagging": [{"Key": "k", "Value": "v"}]}},
        "Report": {"Enabled": True, "Bucket": "arn:aws:s3:::r", "Format": "Report_CSV_20180820"},
    }
    assert roundtrip(Dialect.S3, "CreateJobRequest", value) == value
    cos = {**value, "Operation": {"COSPutObjectCopy": {"TargetResource": "qcs::cos:ap-x::d",
                                                      "AccessControlGrants": [{"Grantee": {"Identifier": "1"},
                                                                               "Permission": "READ"}],
                                                      "NewObjectMetadata": {"UserMetadata": {"a": "1"}}}}}
    assert roundtrip(Dialect.COS, "CreateJobRequest", cos) == cos


def test_element_names_follow_each_dialect():
    job = {"Job": {"JobId": "abcde", "FailureReasons": [{"FailureCode": "C", "FailureReason": "R"}],
                   "Operation": {"COSPutObjectCopy": {"TargetResource": "x", "NewObjectMetadata": {
                       "UserMetadata": {"k": "v"}}}}}}
    cos = ET.fromstring(document("DescribeJobResult", job, "DescribeJobResult", shapes_for(Dialect.COS), None))
    assert cos.find("Job/FailureReasons/JobFailure/FailureCode").text == "C"
    assert cos.find("Job/Operation/COSPutObjectCopy/NewObjectMetadata/UserMetadata/member/Key").text == "k"
    s3_job = {"Job": {"JobId": "abcde", "FailureReasons": [{"FailureCode": "C", "FailureReason": "R"}]}}
    s3 = ET.fromstring(document("DescribeJobResult", s3_job, "DescribeJobResult", shapes_for(Dialect.S3),
                                S3_NAMESPACE))
    assert s3.tag == f"{{{S3_NAMESPACE}}}DescribeJobResult"
    assert s3.find(f"{{{S3_NAMESPACE}}}Job/{{{S3_NAMESPACE}}}FailureReasons/{{{S3_NAMESPACE}}}member") is not None


@pytest.mark.parametrize("body,error", [
    (b"", MalformedRequest),
    (b"<a>", MalformedRequest),
    (b"<!DOCTYPE x [<!ENTITY e 'x'>]><CreateJobRequest>&e;</CreateJobRequest>", MalformedRequest),
    (b"<Other/>", MalformedRequest),
])
def test_parse_document_refuses(body, error):
    with pytest.raises(error):
        parse_document(body, "CreateJobRequest")


@pytest.mark.parametrize("xml,error", [
    ("<CreateJobRequest><Priority>x</Priority></CreateJobRequest>", InvalidRequest),
    ("<CreateJobRequest><ConfirmationRequired>yes</ConfirmationRequired></CreateJobRequest>", InvalidRequest),
    ("<CreateJobRequest><Priority>1</Priority><Priority>2</Priority></CreateJobRequest>", MalformedRequest),
    ("<CreateJobRequest><Manifest><Spec><Fields><x>Key</x></Fields></Spec></Manifest></CreateJobRequest>",
     MalformedRequest),
])
def test_decode_refuses_values_that_do_not_fit(xml, error):
    with pytest.raises(error):
        decode(parse_document(xml.encode(), "CreateJobRequest"), "CreateJobRequest", shapes_for(Dialect.S3))


def signed(method: str = "GET", path: str = "/v20180820/jobs", query: str = "", body: bytes = b"",
           secret: str = "s3cr3t") -> SignedRequest:
    url = "http://127.0.0.1:8480" + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={"x-amz-account-id": "111122223333"})
    S3SigV4Auth(Credentials("AKID1", secret), "s3", "us-east-1").add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "127.0.0.1:8480"
    return SignedRequest(method, path, query, headers, body)


def test_sigv4_from_botocore_verifies_and_tampering_does_not():
    assert verify(signed(query="jobStatuses=Active&maxResults=10"), KEYS).account_id == "111122223333"
    assert verify(signed("POST", body=b"<x/>"), KEYS).access_key_id == "AKID1"
    good = signed(query="maxResults=10")
    for bad in (SignedRequest(good.method, good.path, "maxResults=11", good.headers, good.body),
                SignedRequest("DELETE", good.path, good.query, good.headers, good.body),
                SignedRequest(good.method, "/v20180820/jobs/x", good.query, good.headers, good.body),
                SignedRequest(good.method, good.path, good.query, {**good.headers, "x-amz-account-id": "1"}, b""),
                signed(secret="wrong")):
        with pytest.raises(AccessDenied):
            verify(bad, KEYS)


def test_sigv4_refuses_stale_requests():
    req = signed()
    stale = datetime.now(UTC).timestamp() + 20 * 60
    from cosbatch.api.auth import verify_sigv4

    with pytest.raises(AccessDenied, match="time"):
        verify_sigv4(req, KEYS, now=stale)


def test_cos_signature_from_tencents_sdk_verifies():
    import requests
    from qcloud_cos import CosConfig
    from qcloud_cos.cos_auth import CosS3Auth

    conf = CosConfig(Region="ap-guangzhou", SecretId="AKID1", SecretKey="s3cr3t")
    prepared = requests.Request("POST", "http://127.0.0.1:8480/jobs/abcde/priority", params={"priority": "3"},
                                headers={"x-cos-appid": "111122223333"}).prepare()
    CosS3Auth(conf, key="/jobs/abcde/priority", params={"priority": "3"})(prepared)
    headers = {k.lower(): v for k, v in prepared.headers.items()} | {"host": "127.0.0.1:8480"}
    req = SignedRequest("POST", "/jobs/abcde/priority", "priority=3", headers, b"")
    assert verify(req, KEYS).account_id == "111122223333"
    with pytest.raises(AccessDenied):
        verify(SignedRequest("POST", "/jobs/abcde/priority", "priority=9", headers, b""), KEYS)
    with pytest.raises(AccessDenied):
        verify(req, KEYS | {"AKID1": AccessKey("111122223333", "AKID1", "other")})


def test_access_key_config_parsing():
    keys = parse_access_keys("111:AK1:s1, 222:AK2:s2\n# comment\n", "env")
    assert {k: v.account_id for k, v in keys.items()} == {"AK1": "111", "AK2": "222"}
    assert "s1" not in repr(keys["AK1"])
    with pytest.raises(ConfigError, match="ACCOUNT:ACCESS_KEY_ID:SECRET_ACCESS_KEY"):
        parse_access_keys("111:AK1", "env")

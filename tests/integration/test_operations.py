"""One test per operation, checking the objects' state on the server afterwards, not just the report."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zlib

import pytest
from boto3.s3.transfer import TransferConfig

from cosbatch.lifecycle import JobStatus
from cosbatch.operations.checksum import checksum_of
from tests.conftest import put_objects
from tests.integration.helpers import create_and_run, op_request, read_report, write_manifest


@pytest.fixture()
def seeded(s3, make_bucket):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"objs/{i:03d} ü+%.txt" for i in range(30)]
    put_objects(s3, src, keys, body=lambda k: (k * 7).encode())
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    return src, rep, keys


def tags_of(s3, bucket, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_put_and_delete_tagging(s3, store, settings, seeded):
    src, rep, keys = seeded
    op = {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "cosbatch"}, {"Key": "env", "Value": "prod"}]}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="tag"))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 30
    assert all(tags_of(s3, src, k) == {"project": "cosbatch", "env": "prod"} for k in keys)

    job = create_and_run(store, settings, op_request(src, "m.csv", {"S3DeleteObjectTagging": {}}, rep, token="untag"))
    assert job.progress_summary.number_of_tasks_succeeded == 30
    assert all(tags_of(s3, src, k) == {} for k in keys)


def test_compute_checksum_reports_the_value(s3, store, settings, seeded):
    src, rep, keys = seeded
    for algorithm in ("SHA256", "CRC32"):
        op = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": algorithm, "ChecksumType": "FULL_OBJECT"}}
        job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token=f"sum-{algorithm}"))
        _, rows, _ = read_report(s3, rep, job)
        assert len(rows) == 30
        for row in rows:
            data = (row["Key"] * 7).encode()
            digest = hashlib.sha256(data).digest() if algorithm == "SHA256" else zlib.crc32(data).to_bytes(4, "big")
            result = json.loads(row["ResultMessage"])
            assert result["checksumAlgorithm"] == algorithm
            assert result["checksum_base64"] == base64.b64encode(digest).decode()
            assert result["checksum_hex"] == digest.hex()


def test_delete_objects_in_batches(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"del/{i:05d}" for i in range(2500)]
    keep = [f"keep/{i}" for i in range(5)]
    put_objects(s3, src, keys + keep)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys] + [(src, "del/never-existed")])
    job = create_and_run(store, settings, op_request(src, "m.csv", {"S3DeleteObject": {}}, rep, token="del"))
    assert job.status is JobStatus.COMPLETE
    assert job.progress_summary.number_of_tasks_succeeded == 2501  # deleting a missing key succeeds, as in S3
    left = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=src) for o in p.get("Contents", [])]
    assert sorted(k for k in left if k != "m.csv") == sorted(keep)
    _, rows, _ = read_report(s3, rep, job)
    assert len(rows) == 2501 and {r["TaskStatus"] for r in rows} == {"succeeded"}


def test_delete_specific_versions(s3, make_bucket, store, settings):
    src, rep = make_bucket("src"), make_bucket("rep")
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    old = {k: s3.put_object(Bucket=src, Key=k, Body=b"old")["VersionId"] for k in ("a", "b", "c")}
    for k in old:
        s3.put_object(Bucket=src, Key=k, Body=b"new")
    rows = "".join(f"{src},{k},{v}\n" for k, v in old.items())
    s3.put_object(Bucket=src, Key="m.csv", Body=rows.encode())
    body = op_request(src, "m.csv", {"S3DeleteObject": {}}, rep, token="delv")
    body["Manifest"]["Spec"]["Fields"] = ["Bucket", "Key", "VersionId"]
    job = create_and_run(store, settings, body)
    assert job.progress_summary.number_of_tasks_succeeded == 3
    for k, version in old.items():
        versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=src, Prefix=k)["Versions"] if v["Key"] == k]
        assert version not in versions and len(versions) == 1  # only the old version is gone
        assert s3.get_object(Bucket=src, Key=k)["Body"].read() == b"new"
    _, report_rows, _ = read_report(s3, rep, job)
    assert sorted((r["Key"], r["VersionId"]) for r in report_rows) == sorted(old.items())


def test_put_acl(s3, store, settings, seeded):
    src, rep, keys = seeded
    op = {"S3PutObjectAcl": {"AccessControlPolicy": {"CannedAccessControlList": "public-read"}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="acl"))
    assert job.progress_summary.number_of_tasks_succeeded == 30
    for key in keys:
        grants = s3.get_object_acl(Bucket=src, Key=key)["Grants"]
        assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants)


def test_restore_reports_the_servers_error(s3, store, settings, seeded):
    src, rep, _ = seeded
    op = {"S3InitiateRestoreObject": {"ExpirationInDays": 2, "GlacierJobTier": "BULK"}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="restore"))
    assert job.status is JobStatus.COMPLETE  # 30 tasks: below the threshold's watch size
    _, rows, _ = read_report(s3, rep, job)
    # SeaweedFS has no archive tier: restore is answered 405 MethodNotAllowed, reported per task.
    assert {(r["TaskStatus"], r["ErrorCode"], r["HTTPStatusCode"]) for r in rows} == {("failed", "MethodNotAllowed", "405")}


def test_invoke_user_function(s3, store, settings, seeded):
    src, rep, keys = seeded
    op = {"Invoke": {"Function": "tests.integration.invoke_functions:tag_with_size", "UserArguments": {"tag": "bytes"}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="invoke"))
    assert job.progress_summary.number_of_tasks_succeeded == 30
    assert all(tags_of(s3, src, k) == {"bytes": str(len((k * 7).encode()))} for k in keys)
    _, rows, _ = read_report(s3, rep, job)
    assert {r["ResultMessage"] for r in rows} == {f"tagged {k} with bytes={len((k * 7).encode())}" for k in keys}

    op = {"Invoke": {"Function": "tests.integration.invoke_functions:explode"}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="explode"))
    _, rows, _ = read_report(s3, rep, job)
    assert {(r["TaskStatus"], r["ErrorCode"]) for r in rows} == {("failed", "UserFunctionError")}
    assert "ValueError: cannot handle" in rows[0]["ResultMessage"]

    op = {"Invoke": {"Function": "no_such_module_xyz:fn"}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="nomod"))
    assert job.status is JobStatus.FAILED and job.failure_reasons[0].failure_code == "InvalidOperation"


def test_put_acl_grant_list(s3, store, settings, seeded):
    src, rep, keys = seeded
    owner = s3.get_object_acl(Bucket=src, Key=keys[0])["Owner"]
    op = {"S3PutObjectAcl": {"AccessControlPolicy": {"AccessControlList": {
        "Owner": {"ID": owner["ID"], "DisplayName": owner.get("DisplayName") or owner["ID"]},
        "Grants": [{"Grantee": {"TypeIdentifier": "id", "Identifier": owner["ID"],
                                "DisplayName": owner.get("DisplayName") or owner["ID"]},
                    "Permission": "FULL_CONTROL"},
                   {"Grantee": {"TypeIdentifier": "uri", "Identifier": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "Permission": "READ"}],
    }}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token="acl-list"))
    assert job.progress_summary.number_of_tasks_succeeded == 30, read_report(s3, rep, job)[1][:2]
    for key in keys:
        grants = s3.get_object_acl(Bucket=src, Key=key)["Grants"]
        assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants)
        assert any(g["Grantee"].get("ID") == owner["ID"] and g["Permission"] == "FULL_CONTROL" for g in grants)


def test_compute_checksum_crc32c_crc64nvme_and_composite(s3, make_bucket, store, settings):
    """CRC32C and CRC64NVME of whole objects; COMPOSITE of an object uploaded in parts equals the
    checksum the storage itself keeps for that upload (S3's checksum of the parts' checksums)."""
    src, rep = make_bucket("src"), make_bucket("rep")
    small = b"Hello world"
    big = bytes(range(256)) * (11 * 4096)
    s3.put_object(Bucket=src, Key="small", Body=small)
    s3.upload_fileobj(io.BytesIO(big), src, "parts", ExtraArgs={"ChecksumAlgorithm": "CRC32C"},
                      Config=TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2))
    stored = s3.head_object(Bucket=src, Key="parts", ChecksumMode="ENABLED")
    assert stored["ChecksumType"] == "COMPOSITE" and stored["ChecksumCRC32C"].endswith("-3")
    write_manifest(s3, src, "m.csv", [(src, "small"), (src, "parts")])

    def results(algorithm: str, checksum_type: str) -> dict[str, dict]:
        op = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": algorithm, "ChecksumType": checksum_type}}
        job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, token=f"{algorithm}-{checksum_type}"))
        _, rows, _ = read_report(s3, rep, job)
        assert all(r["TaskStatus"] == "succeeded" for r in rows), rows
        return {r["Key"]: json.loads(r["ResultMessage"]) for r in rows}

    full = results("CRC64NVME", "FULL_OBJECT")
    assert full["small"]["checksum_base64"] == "OOJZ0D8xKts="  # AWS's test vector for "Hello world"
    assert full["parts"]["checksum_base64"] == base64.b64encode(checksum_of("CRC64NVME", big)).decode()
    parts = results("CRC32C", "COMPOSITE")
    assert parts["parts"] == {**parts["parts"], "checksumType": "COMPOSITE",
                              "checksum_base64": stored["ChecksumCRC32C"]}
    assert parts["small"]["checksumType"] == "FULL_OBJECT" and parts["small"]["checksum_base64"] == "crUfeA=="

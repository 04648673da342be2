"""PutObjectCopy parameters reach the server: metadata, tagging, storage class, key prefix,
conditional copy, and errors keep their codes (through the lean S3 client on the hot path)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cosbatch.lifecycle import JobStatus
from cosbatch.storage import StorageCatalog
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.support.fault_proxy import FaultProxy


def test_copy_with_new_metadata_tags_and_prefix(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = ["photos/a b.jpg", "photos/ü+%.jpg"]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    body = copy_request(src, "m.csv", dst, rep, token="params")
    body["Operation"] = {"S3PutObjectCopy": {
        "TargetResource": f"arn:aws:s3:::{dst}",
        "TargetKeyPrefix": "archive",
        "StorageClass": "STANDARD_IA",
        "MetadataDirective": "REPLACE",
        "NewObjectMetadata": {"ContentType": "image/jpeg", "CacheControl": "max-age=60",
                              "UserMetadata": {"origin": "batch", "team": "data"}},
        "NewObjectTagging": [{"Key": "project", "Value": "cosbatch"}, {"Key": "tier", "Value": "cold storage"}],
    }}
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 2
    for k in keys:
        head = s3.head_object(Bucket=dst, Key=f"archive/{k}")
        assert head["ContentType"] == "image/jpeg"
        assert head["CacheControl"] == "max-age=60"
        assert head["Metadata"] == {"origin": "batch", "team": "data"}
        assert head.get("StorageClass") == "STANDARD_IA"
        assert s3.get_object(Bucket=dst, Key=f"archive/{k}")["Body"].read() == f"content of {k}".encode()
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=dst, Key=f"archive/{k}")["TagSet"]}
        assert tags == {"project": "cosbatch", "tier": "cold storage"}


def test_unmodified_since_constraint_fails_with_the_server_code(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["k1"])
    write_manifest(s3, src, "m.csv", [(src, "k1")])
    body = copy_request(src, "m.csv", dst, rep, token="cond")
    body["Operation"] = {"S3PutObjectCopy": {
        "TargetResource": f"arn:aws:s3:::{dst}",
        "UnModifiedSinceConstraint": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }}
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE
    _, rows, _ = read_report(s3, rep, job)
    assert len(rows) == 1 and rows[0]["TaskStatus"] == "failed"
    assert rows[0]["HTTPStatusCode"] == "412" and rows[0]["ErrorCode"] == "PreconditionFailed"
    assert "Contents" not in s3.list_objects_v2(Bucket=dst)


def test_copy_grants_and_tricky_keys_round_trip(s3, s3_server, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    # Not here, because SeaweedFS (a filesystem underneath) cannot keep them: a key ending in "/"
    # (stored as a directory marker that cannot be copied) and "a//b" (folded to "a/b").
    keys = ["deep/a/b/c/d/e/f/g/h/i.txt", "with space/and+plus", "100%/done",
            "%2F literal", "日本語/キー", "emoji 🎉", "quote\"comma,semicolon;"]
    put_objects(s3, src, keys)
    traversal = "./dot/../up"  # SeaweedFS refuses such keys (a 4xx): a failed row, nothing else
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys] + [(src, traversal)])
    body = copy_request(src, "m.csv", dst, rep, token="grants")
    body["Operation"] = {"S3PutObjectCopy": {
        "TargetResource": f"arn:aws:s3:::{dst}",
        "AccessControlGrants": [{"Grantee": {"TypeIdentifier": "uri",
                                             "Identifier": "http://acs.amazonaws.com/groups/global/AllUsers"},
                                 "Permission": "READ"}],
    }}
    with FaultProxy(s3_server.endpoint_url) as proxy:  # forwards everything; records what was sent
        job = create_and_run(store, replace(settings, storages=StorageCatalog.at(proxy.url)), body)
    assert job.progress_summary.number_of_tasks_succeeded == len(keys), read_report(s3, rep, job)[1]
    copied = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"])
    assert copied == sorted(keys)
    _, rows, _ = read_report(s3, rep, job)
    assert sorted(r["Key"] for r in rows) == sorted([*keys, traversal])  # the report reads back to the exact keys
    bad = next(r for r in rows if r["Key"] == traversal)
    assert bad["TaskStatus"] == "failed" and bad["HTTPStatusCode"] in ("400", "403")
    assert bad["ResultMessage"].startswith("PermanentFailure")
    # SeaweedFS accepts but ignores ACL headers on copy (canned or grants, from boto3 too), so the
    # check is on what cosbatch sent: every copy carried the grant.
    copies = [h for method, _, h in proxy.requests if method == "PUT" and "x-amz-copy-source" in h]
    assert len(copies) == len(keys) + 1
    assert {h.get("x-amz-grant-read") for h in copies} == {'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}


def test_copy_with_every_header_field(s3, s3_server, make_bucket, store, settings):
    """The remaining copy fields reach the server: system metadata, the canned ACL, an
    if-modified-since that holds, and COS's TaggingDirective Replaced (no tags: none kept)."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = ["a.txt", "b/c.txt"]
    put_objects(s3, src, keys)
    for k in keys:
        s3.put_object_tagging(Bucket=src, Key=k, Tagging={"TagSet": [{"Key": "old", "Value": "tag"}]})
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    expires = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    metadata = {"ContentDisposition": "attachment; filename=x.txt", "ContentEncoding": "identity",
                "ContentLanguage": "de", "HttpExpiresDate": expires.isoformat()}
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = copy_request(src, "m.csv", dst, rep, token="every", Operation={"S3PutObjectCopy": dict(
        TargetResource=f"arn:aws:s3:::{dst}", CannedAccessControlList="public-read",
        AccessControlDirective="Replaced", TaggingDirective="Replaced", ModifiedSinceConstraint=since,
        MetadataDirective="REPLACE", NewObjectMetadata=metadata)})
    with FaultProxy(s3_server.endpoint_url) as proxy:
        job = create_and_run(store, replace(settings, storages=StorageCatalog.at(proxy.url)), body)
    assert job.progress_summary.number_of_tasks_succeeded == 2, read_report(s3, rep, job)[1]
    copies = [h for method, _, h in proxy.requests if method == "PUT" and "x-amz-copy-source" in h]
    assert len(copies) == 2
    for h in copies:
        assert h.get("x-amz-acl") == "public-read"  # SeaweedFS ignores ACLs on copy: check what was sent
        assert h.get("x-amz-tagging-directive") == "REPLACE" and "x-amz-tagging" not in h
        assert h.get("x-amz-copy-source-if-modified-since")
    for k in keys:
        head = s3.head_object(Bucket=dst, Key=k)
        assert head["ContentDisposition"] == "attachment; filename=x.txt"
        assert head["ContentEncoding"] == "identity" and head["ContentLanguage"] == "de"
        assert head["Expires"] == expires
        assert s3.get_object_tagging(Bucket=dst, Key=k)["TagSet"] == []


def test_cos_tagging_directive_add_merges_into_the_source_tags(s3, make_bucket, store, settings):
    """COS TaggingDirective Add: the source's tags plus NewObjectTagging (a key both have takes the
    new value), on the single copy and on the multipart copy alike."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    s3.put_object(Bucket=src, Key="small", Body=b"x" * 10, Tagging="team=a&stage=raw")
    s3.put_object(Bucket=src, Key="big", Body=b"y" * (6 * 1024**2), Tagging="team=a&stage=raw")
    s3.put_object(Bucket=src, Key="untagged", Body=b"z")
    write_manifest(s3, src, "m.csv", [(src, k) for k in ("small", "big", "untagged")])
    body = copy_request(src, "m.csv", dst, rep, token="tag-add")
    body["Operation"] = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "TaggingDirective": "Add",
                                             "NewObjectTagging": [{"Key": "stage", "Value": "copied"},
                                                                  {"Key": "by", "Value": "cosbatch"}]}}
    storage = replace(settings.storages.default, multipart_copy_threshold=5 * 1024**2,
                      multipart_chunksize=5 * 1024**2)
    job = create_and_run(store, replace(settings, storages=StorageCatalog.single(storage)), body)
    assert job.progress_summary.number_of_tasks_succeeded == 3, read_report(s3, rep, job)[1]

    def tags(key: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=dst, Key=key)["TagSet"]}

    assert tags("small") == tags("big") == {"team": "a", "stage": "copied", "by": "cosbatch"}
    assert tags("untagged") == {"stage": "copied", "by": "cosbatch"}
    assert s3.head_object(Bucket=dst, Key="big")["ETag"].strip('"').endswith("-2")  # went in parts


def test_cos_access_control_directive_copy_and_add(s3, s3_server, make_bucket, store, settings):
    """COS AccessControlDirective Copy gives each copy its source's grants; Add those plus
    AccessControlGrants, on the single copy and the multipart copy (CreateMultipartUpload) alike.
    SeaweedFS ignores ACL headers on copies, so the check is on what was sent."""
    src = make_bucket("src")
    s3.put_object(Bucket=src, Key="small", Body=b"x")
    s3.put_object(Bucket=src, Key="big", Body=b"y" * (6 * 1024**2))
    owner = s3.get_object_acl(Bucket=src, Key="small")["Owner"]
    everyone = "http://acs.amazonaws.com/groups/global/AllUsers"
    for key in ("small", "big"):
        s3.put_object_acl(Bucket=src, Key=key, AccessControlPolicy={"Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": everyone}, "Permission": "READ"}]})
    write_manifest(s3, src, "m.csv", [(src, "small"), (src, "big")])
    storage = replace(settings.storages.default, multipart_copy_threshold=5 * 1024**2,
                      multipart_chunksize=5 * 1024**2)
    extra = {"Copy": {}, "Add": {"AccessControlGrants": [
        {"Grantee": {"TypeIdentifier": "id", "Identifier": "auditor"}, "Permission": "READ_ACP"}]}}
    for directive, fields in extra.items():
        dst = make_bucket("dst")
        body = copy_request(src, "m.csv", dst, None, token=f"acl-{directive}", Operation={"S3PutObjectCopy": {
            "TargetResource": f"arn:aws:s3:::{dst}", "AccessControlDirective": directive, **fields}})
        with FaultProxy(s3_server.endpoint_url) as proxy:
            proxied = replace(settings, storages=StorageCatalog.single(replace(storage, endpoint_url=proxy.url)))
            job = create_and_run(store, proxied, body)
        assert job.progress_summary.number_of_tasks_succeeded == 2
        sent = [h for m, p, h in proxy.requests
                if (m == "PUT" and "x-amz-copy-source" in h and "partNumber" not in p) or p.endswith("?uploads=")]
        assert len(sent) == 2, [(m, p) for m, p, _ in proxy.requests]
        for h in sent:
            assert h.get("x-amz-grant-read") == f'uri="{everyone}"'
            assert h.get("x-amz-grant-full-control") == f'id="{owner["ID"]}"'
            assert h.get("x-amz-grant-read-acp") == ('id="auditor"' if directive == "Add" else None)

"""No field accepted then ignored: every member of CreateJobRequest, and of every shape reachable
from it, in botocore's S3 Control model plus the COS and cosbatch fields laid over it
(cosbatch/wire/shapes.py), is either honoured, with a test that proves it, or refused at CreateJob
with InvalidRequest naming it (HTTP 400; the CLI exits 2)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from cosbatch.errors import InvalidRequest, UnsupportedField
from cosbatch.models import Dialect
from cosbatch.wire.dialects import parse_create_job
from cosbatch.wire.shapes import shapes_for
from tests.unit.test_models import s3_body

TESTS = Path(__file__).resolve().parents[1]
COPY = "Operation.S3PutObjectCopy"
META = f"{COPY}.NewObjectMetadata"
GEN = "ManifestGenerator.S3JobManifestGenerator"
ACL = "Operation.S3PutObjectAcl.AccessControlPolicy"
PARAMS = "integration/test_copy_parameters.py::"
OPS = "integration/test_operations.py::"
GENERATED = "integration/test_manifest_sources.py::"
LOCK = "integration/test_object_lock_operations.py::"
SSE = "integration/test_copy_encryption_and_lock.py::"
TAGS = "api/test_job_tags.py::test_create_with_tags_then_put_get_delete"
EVERY_FIELD = PARAMS + "test_copy_with_every_header_field"
GEN_FILTERS = GENERATED + "test_generated_manifest_other_filters_and_output_location"
CREATE = "api/test_s3control_boto3.py::test_create_describe_run_to_complete"

#: Field path → the test that proves it works.
HONOURED: dict[str, str] = {
    "ConfirmationRequired": "e2e/test_cli.py::test_confirmation_and_cancel",
    "Operation": CREATE,
    "ClientRequestToken": "api/test_s3control_boto3.py::test_priority_status_and_modeled_errors",
    "Description": CREATE,
    "Priority": "api/test_s3control_boto3.py::test_priority_status_and_modeled_errors",
    "RoleArn": CREATE,  # kept and shown: cosbatch runs with its own storage credentials
    "Tags": TAGS,
    "Tags[].Key": TAGS,
    "Tags[].Value": TAGS,
    "DryRun": "integration/test_reports_and_dry_run.py::test_dry_run_changes_nothing_and_reports_what_would_happen",
    "Report": CREATE,
    "Report.Bucket": CREATE,
    "Report.Format": "integration/test_reports_and_dry_run.py::test_parquet_report_has_typed_columns",
    "Report.Enabled": "integration/test_copy_job.py::test_copy_2000_objects",
    "Report.Prefix": CREATE,
    "Report.ReportScope": "integration/test_copy_job.py::test_failed_tasks_only_scope",
    "Manifest": CREATE,
    "Manifest.Spec": CREATE,
    "Manifest.Spec.Format": GENERATED + "test_inventory_manifest",
    "Manifest.Spec.Fields": CREATE,
    "Manifest.Location": CREATE,
    "Manifest.Location.ObjectArn": CREATE,
    "Manifest.Location.ObjectVersionId": GENERATED + "test_manifest_object_version_id",
    "Manifest.Location.ETag": "integration/test_copy_job.py::test_manifest_etag_mismatch_and_missing_target",
    COPY: CREATE,
    f"{COPY}.TargetResource": CREATE,
    f"{COPY}.TargetKeyPrefix": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.CannedAccessControlList": EVERY_FIELD,
    f"{COPY}.AccessControlGrants": PARAMS + "test_copy_grants_and_tricky_keys_round_trip",
    f"{COPY}.AccessControlGrants[].Grantee": PARAMS + "test_copy_grants_and_tricky_keys_round_trip",
    f"{COPY}.AccessControlGrants[].Grantee.TypeIdentifier": PARAMS + "test_copy_grants_and_tricky_keys_round_trip",
    f"{COPY}.AccessControlGrants[].Grantee.Identifier": PARAMS + "test_copy_grants_and_tricky_keys_round_trip",
    f"{COPY}.AccessControlGrants[].Permission": PARAMS + "test_copy_grants_and_tricky_keys_round_trip",
    f"{COPY}.MetadataDirective": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.ModifiedSinceConstraint": EVERY_FIELD,
    f"{COPY}.UnModifiedSinceConstraint": PARAMS + "test_unmodified_since_constraint_fails_with_the_server_code",
    f"{COPY}.NewObjectTagging": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.NewObjectTagging[].Key": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.NewObjectTagging[].Value": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.StorageClass": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{COPY}.PrefixReplace": "api/test_cos_dialect.py::test_sample_create_job_runs_and_describes_in_cos_xml",
    f"{COPY}.ResourcesPrefix": "api/test_cos_dialect.py::test_sample_create_job_runs_and_describes_in_cos_xml",
    f"{COPY}.AccessControlDirective": PARAMS + "test_cos_access_control_directive_copy_and_add",
    f"{COPY}.TaggingDirective": PARAMS + "test_cos_tagging_directive_add_merges_into_the_source_tags",
    META: PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{META}.CacheControl": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{META}.ContentType": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{META}.UserMetadata": PARAMS + "test_copy_with_new_metadata_tags_and_prefix",
    f"{META}.ContentDisposition": EVERY_FIELD,
    f"{META}.ContentEncoding": EVERY_FIELD,
    f"{META}.ContentLanguage": EVERY_FIELD,
    f"{META}.HttpExpiresDate": EVERY_FIELD,
    f"{META}.SSEAlgorithm": SSE + "test_sse_s3_on_copy_keeps_the_metadata",
    f"{COPY}.SSEAwsKmsKeyId": SSE + "test_sse_kms_and_checksum_are_sent_on_both_paths",
    f"{COPY}.BucketKeyEnabled": SSE + "test_sse_kms_and_checksum_are_sent_on_both_paths",
    f"{COPY}.ChecksumAlgorithm": SSE + "test_object_lock_on_copy",
    f"{COPY}.ObjectLockMode": SSE + "test_object_lock_on_copy",
    f"{COPY}.ObjectLockRetainUntilDate": SSE + "test_object_lock_on_copy",
    f"{COPY}.ObjectLockLegalHoldStatus": SSE + "test_object_lock_on_copy",
    "Operation.S3PutObjectAcl": OPS + "test_put_acl",
    ACL: OPS + "test_put_acl",
    f"{ACL}.CannedAccessControlList": OPS + "test_put_acl",
    f"{ACL}.AccessControlList": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Owner": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Owner.ID": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Owner.DisplayName": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants[].Grantee": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants[].Grantee.TypeIdentifier": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants[].Grantee.Identifier": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants[].Grantee.DisplayName": OPS + "test_put_acl_grant_list",
    f"{ACL}.AccessControlList.Grants[].Permission": OPS + "test_put_acl_grant_list",
    "Operation.S3PutObjectTagging": OPS + "test_put_and_delete_tagging",
    "Operation.S3PutObjectTagging.TagSet": OPS + "test_put_and_delete_tagging",
    "Operation.S3PutObjectTagging.TagSet[].Key": OPS + "test_put_and_delete_tagging",
    "Operation.S3PutObjectTagging.TagSet[].Value": OPS + "test_put_and_delete_tagging",
    "Operation.S3DeleteObjectTagging": OPS + "test_put_and_delete_tagging",
    "Operation.S3InitiateRestoreObject": OPS + "test_restore_reports_the_servers_error",
    "Operation.S3InitiateRestoreObject.ExpirationInDays": OPS + "test_restore_reports_the_servers_error",
    "Operation.S3InitiateRestoreObject.GlacierJobTier": OPS + "test_restore_reports_the_servers_error",
    "Operation.S3InitiateRestoreObject.JobTier": "unit/test_models.py::test_cos_restore_parameters",
    "Operation.S3ComputeObjectChecksum": OPS + "test_compute_checksum_reports_the_value",
    "Operation.S3ComputeObjectChecksum.ChecksumAlgorithm": OPS + "test_compute_checksum_reports_the_value",
    "Operation.S3ComputeObjectChecksum.ChecksumType": OPS + "test_compute_checksum_crc32c_crc64nvme_and_composite",
    "Operation.S3DeleteObject": OPS + "test_delete_objects_in_batches",
    "Operation.S3PutObjectRetention": LOCK + "test_retention_on_every_object_then_shortened_only_with_bypass",
    "Operation.S3PutObjectRetention.BypassGovernanceRetention": LOCK + "test_retention_on_every_object_then_shortened_only_with_bypass",
    "Operation.S3PutObjectRetention.Retention": LOCK + "test_retention_on_every_object_then_shortened_only_with_bypass",
    "Operation.S3PutObjectRetention.Retention.Mode": LOCK + "test_retention_on_every_object_then_shortened_only_with_bypass",
    "Operation.S3PutObjectRetention.Retention.RetainUntilDate": LOCK + "test_retention_on_every_object_then_shortened_only_with_bypass",
    "Operation.S3PutObjectLegalHold": LOCK + "test_legal_hold_on_then_off_on_every_object",
    "Operation.S3PutObjectLegalHold.LegalHold": LOCK + "test_legal_hold_on_then_off_on_every_object",
    "Operation.S3PutObjectLegalHold.LegalHold.Status": LOCK + "test_legal_hold_on_then_off_on_every_object",
    "Operation.Invoke": OPS + "test_invoke_user_function",
    "Operation.Invoke.Function": OPS + "test_invoke_user_function",
    "Operation.Invoke.UserArguments": OPS + "test_invoke_user_function",
    "ManifestGenerator": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    GEN: GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.SourceBucket": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.EnableManifestOutput": GENERATED + "test_generated_manifest_without_output_is_removed_when_the_job_ends",
    f"{GEN}.ManifestOutputLocation": GEN_FILTERS,
    f"{GEN}.ManifestOutputLocation.Bucket": GEN_FILTERS,
    f"{GEN}.ManifestOutputLocation.ManifestPrefix": GEN_FILTERS,
    f"{GEN}.ManifestOutputLocation.ManifestFormat": GEN_FILTERS,  # its one value; others refused
    f"{GEN}.Filter": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.CreatedAfter": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.CreatedBefore": GEN_FILTERS,
    f"{GEN}.Filter.KeyNameConstraint": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.KeyNameConstraint.MatchAnyPrefix": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.KeyNameConstraint.MatchAnySuffix": GEN_FILTERS,
    f"{GEN}.Filter.KeyNameConstraint.MatchAnySubstring": GEN_FILTERS,
    f"{GEN}.Filter.ObjectSizeGreaterThanBytes": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.ObjectSizeLessThanBytes": GENERATED + "test_generated_manifest_prefix_and_size_filter",
    f"{GEN}.Filter.MatchAnyStorageClass": GEN_FILTERS,
}

#: Values of refused fields where a plain sample of the shape's type would be accepted.
REFUSED_SAMPLES: dict[str, Any] = {
    f"{GEN}.ManifestOutputLocation.ManifestFormat": "S3BatchOperations_CSV_20180820",
    f"{COPY}.AccessControlDirective": "Merge",
    f"{COPY}.TaggingDirective": "Merge",
}


def _generator_body() -> dict:
    body = s3_body()
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::src",
                                                            "EnableManifestOutput": True}}
    return body


def _sample(shape: dict) -> Any:
    kind = shape["type"]
    if "enum" in shape:
        return shape["enum"][0]
    return {"string": "x", "boolean": True, "integer": 1, "long": 1, "timestamp": "2030-01-01T00:00:00Z",
            "structure": {}, "list": [], "map": {"k": "v"}, "double": 1.0, "blob": "eA=="}.get(kind, "x")


def _body_with(path: str, value: Any) -> dict:
    body = _generator_body() if path.startswith("ManifestGenerator") else s3_body()
    parts = path.split(".")
    if parts[0] == "Operation":
        body["Operation"] = {}
        if len(parts) > 2 and parts[1] == "S3PutObjectCopy":
            body["Operation"] = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst"}}
    if path.startswith(f"{GEN}.ManifestOutputLocation."):
        body["ManifestGenerator"]["S3JobManifestGenerator"]["ManifestOutputLocation"] = {"Bucket": "arn:aws:s3:::out"}
    if path.startswith(f"{COPY}.AccessControlGrants[]."):
        body["Operation"][parts[1]]["AccessControlGrants"] = [{"Grantee": {"Identifier": "1"}, "Permission": "READ"}]
    node: Any = body
    for part in parts[:-1]:
        name, is_list = part.removesuffix("[]"), part.endswith("[]")
        node = node.setdefault(name, [{}])[0] if is_list else node.setdefault(name, {})
    last = parts[-1]
    if last.endswith("[]"):
        node[last[:-2]] = [value]
    else:
        node[last] = value
    return body


def _paths() -> list[tuple[str, dict]]:
    shapes = shapes_for(Dialect.S3)
    out: list[tuple[str, dict]] = []

    def walk(shape_name: str, prefix: str, depth: int) -> None:
        shape = shapes[shape_name]
        if shape["type"] == "list":
            return walk(shape["member"]["shape"], prefix + "[]", depth)
        if shape["type"] != "structure" or depth > 8:
            return
        for name, member in shape["members"].items():
            if member.get("location"):  # headers and URI parts, not body fields
                continue
            path = f"{prefix}.{name}" if prefix else name
            if path == "AccountId":
                continue
            out.append((path, shapes[member["shape"]]))
            if path in HONOURED:
                walk(member["shape"], path, depth + 1)

    walk("CreateJobRequest", "", 0)
    return out


PATHS = _paths()


def test_the_walk_sees_the_whole_model():
    names = {p for p, _ in PATHS}
    assert len(names) > 120
    for must in (f"{COPY}.ObjectLockEventHold", f"{GEN}.Filter.EligibleForReplication", "Report.ExpectedBucketOwner",
                 f"{META}.SSEAlgorithm", "Operation.S3ReplicateObject", f"{COPY}.TaggingDirective"):
        assert must in names
    assert not set(HONOURED) - names, "HONOURED names fields the model does not have"


@pytest.mark.parametrize(("path", "shape"), PATHS, ids=[p for p, _ in PATHS])
def test_each_field_is_honoured_or_refused(path, shape):
    if path in HONOURED and path not in REFUSED_SAMPLES:
        where, _, test = HONOURED[path].partition("::")
        source = (TESTS / where).read_text()
        assert re.search(rf"^def {test}\(", source, re.M), f"{path}: no test {HONOURED[path]}"
        return
    value = REFUSED_SAMPLES.get(path, _sample(shape))
    with pytest.raises(InvalidRequest) as refused:
        parse_create_job(copy.deepcopy(_body_with(path, value)))
    leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
    assert leaf in refused.value.message, (path, refused.value.message)
    assert isinstance(refused.value, UnsupportedField) or path in REFUSED_SAMPLES, refused.value.message

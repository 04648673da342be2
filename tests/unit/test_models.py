"""Models: both dialects parse to the same request; field limits from the spec hold."""

import pytest

from cosbatch.errors import InvalidRequest
from cosbatch.models import Dialect, ManifestFormat
from cosbatch.names import parse_bucket_name, parse_object_name
from cosbatch.wire.dialects import parse_create_job


def s3_body(**over):
    body = {
        "AccountId": "123456789012",
        "ClientRequestToken": "token-1",
        "Priority": 10,
        "RoleArn": "arn:aws:iam::123456789012:role/batch",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": "arn:aws:s3:::src/manifests/m.csv", "ETag": "abc"},
        },
        "Operation": {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst", "StorageClass": "STANDARD"}},
        "Report": {"Enabled": True, "Bucket": "arn:aws:s3:::rep", "Format": "Report_CSV_20180820",
                   "Prefix": "r", "ReportScope": "AllTasks"},
    }
    body.update(over)
    return body


def cos_body(**over):
    body = s3_body(
        AccountId="1250000000",
        RoleArn="qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole",
        Manifest={
            "Spec": {"Format": "COSBatchOperations_CSV_V1", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": "qcs::cos:ap-guangzhou::src/manifests/m.csv", "ETag": "abc"},
        },
        Operation={"COSPutObjectCopy": {"TargetResource": "qcs::cos:ap-guangzhou:uid/1250000000:dst",
                                        "StorageClass": "STANDARD"}},
        Report={"Enabled": True, "Bucket": "qcs::cos:ap-guangzhou::rep", "Format": "Report_CSV_V1",
                "Prefix": "r", "ReportScope": "AllTasks"},
    )
    body.update(over)
    return body


def test_both_dialects_same_model():
    s3 = parse_create_job(s3_body())
    cos = parse_create_job(cos_body())
    assert s3.dialect is Dialect.S3 and cos.dialect is Dialect.COS
    assert s3.operation.name == cos.operation.name == "S3PutObjectCopy"
    assert s3.operation.params.target_bucket == cos.operation.params.target_bucket == "dst"
    assert s3.manifest.location.ref == cos.manifest.location.ref
    assert s3.manifest.location.ref.bucket == "src" and s3.manifest.location.ref.key == "manifests/m.csv"
    assert s3.report.bucket_name == cos.report.bucket_name == "rep"
    assert cos.manifest.spec.format is ManifestFormat.COS_CSV


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("Priority", -1, "Priority"),
        ("Priority", 2147483648, "Priority"),
        ("Description", "x" * 257, "Description"),
        ("ClientRequestToken", "t" * 65, "ClientRequestToken"),
        ("ClientRequestToken", "", "ClientRequestToken"),
        ("Operation", {}, "exactly one operation"),
        ("Operation", {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst"}, "Bogus": {}}, "Bogus"),
        ("Report", {"Enabled": True}, "Report.Bucket is required"),
        ("Report", {"Enabled": True, "Bucket": "arn:aws:s3:::rep", "Format": "Report_CSV_20180820",
                    "Prefix": "../escape"}, "Prefix"),
        ("Manifest", {"Spec": {"Format": "CSV"}, "Location": {"ObjectArn": "arn:aws:s3:::abc/b"}}, "Format"),
        ("Manifest", {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Key"]},
                      "Location": {"ObjectArn": "arn:aws:s3:::abc/b"}}, "Bucket and Key"),
    ],
)
def test_limits(field, value, fragment):
    with pytest.raises(InvalidRequest) as err:
        parse_create_job(s3_body(**{field: value}))
    assert fragment in err.value.message
    assert "\n" not in err.value.message and "Value error" not in err.value.message  # our words, not pydantic's


def test_limits_accept_edges():
    assert parse_create_job(s3_body(Priority=0)).priority == 0
    assert parse_create_job(s3_body(Priority=2147483647)).priority == 2147483647
    assert parse_create_job(s3_body(Description="d" * 256)).description == "d" * 256


def test_resource_names():
    assert parse_bucket_name("arn:aws:s3:::my-bucket") == "my-bucket"
    assert parse_bucket_name("qcs::cos:ap-beijing:uid/1250000000:examplebucket-1250000000") == "examplebucket-1250000000"
    assert parse_bucket_name("qcs::cos:ap-beijing::examplebucket-1250000000") == "examplebucket-1250000000"
    ref = parse_object_name("qcs::cos:ap-beijing::b-125/dir/a b.csv")
    assert (ref.bucket, ref.key) == ("b-125", "dir/a b.csv")
    assert parse_object_name("s3://b1/k/x").key == "k/x"
    assert parse_object_name("file:///tmp/m.csv").local_path == "/tmp/m.csv"
    for bad in ("arn:aws:s3:::", "arn:aws:s3:::bucket-only", "qcs::cos:r::b/", "http://x/y"):
        with pytest.raises(InvalidRequest):
            parse_object_name(bad)
    with pytest.raises(InvalidRequest):
        parse_bucket_name("arn:aws:s3:::b/with/key")


def test_copy_target_key():
    req = parse_create_job(s3_body(Operation={"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst", "TargetKeyPrefix": "Folder1"}}))
    assert req.operation.params.target_key("a/b.txt") == "Folder1/a/b.txt"
    cos = parse_create_job(cos_body(Operation={"COSPutObjectCopy": {
        "TargetResource": "qcs::cos:r::dst", "PrefixReplace": True, "ResourcesPrefix": "old/", "TargetKeyPrefix": "new/"}}))
    assert cos.operation.params.target_key("old/x.txt") == "new/x.txt"
    assert cos.operation.params.target_key("other/x.txt") == "other/x.txt"


def test_cos_restore_parameters():
    req = parse_create_job(cos_body(Operation={"COSInitiateRestoreObject": {"ExpirationInDays": 3, "JobTier": "Bulk"}}))
    assert req.operation.name == "S3InitiateRestoreObject"
    assert (req.operation.params.expiration_in_days, req.operation.params.tier) == (3, "Bulk")
    s3 = parse_create_job(s3_body(Operation={"S3InitiateRestoreObject": {"GlacierJobTier": "STANDARD"}}))
    assert s3.operation.params.tier == "Standard"
    with pytest.raises(InvalidRequest):
        parse_create_job(cos_body(Operation={"COSInitiateRestoreObject": {"JobTier": "Slow"}}))


def test_segment_size_is_the_operations_unless_configured():
    from cosbatch.models import JobOperation
    from cosbatch.operations import DEFAULT_SEGMENT_TASKS, segment_tasks_for

    delete = JobOperation.model_validate({"S3DeleteObject": {}})
    tagging = JobOperation.model_validate({"S3PutObjectTagging": {"TagSet": []}})
    assert segment_tasks_for(delete) == 10_000  # multi-object delete: bigger requests
    assert segment_tasks_for(tagging) == DEFAULT_SEGMENT_TASKS == 1000
    assert segment_tasks_for(delete, 250) == 250  # a configured size always wins
    assert segment_tasks_for(tagging, 5) == 5


def test_an_output_location_with_manifest_output_disabled_is_refused():
    body = s3_body()
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {
        "SourceBucket": "arn:aws:s3:::src", "EnableManifestOutput": False,
        "ManifestOutputLocation": {"Bucket": "arn:aws:s3:::out", "ManifestFormat": "S3InventoryReport_CSV_20211130"}}}
    with pytest.raises(InvalidRequest, match="EnableManifestOutput=false"):
        parse_create_job(body)
    body["ManifestGenerator"]["S3JobManifestGenerator"].pop("ManifestOutputLocation")
    assert not parse_create_job(body).manifest_generator.s3_job_manifest_generator.enable_manifest_output


def test_a_generated_manifest_with_no_report_says_what_would_work():
    body = s3_body(Report={"Enabled": False})
    del body["Manifest"]
    gen = {"SourceBucket": "arn:aws:s3:::src", "EnableManifestOutput": False}
    body["ManifestGenerator"] = {"S3JobManifestGenerator": gen}
    # Output disabled: an output location is no way out (it is refused with output disabled).
    with pytest.raises(InvalidRequest, match="enable the Report .or set EnableManifestOutput=true and give a "
                                             "ManifestOutputLocation.") as refused:
        parse_create_job(body)
    assert "or give ManifestGenerator" not in refused.value.message
    gen["EnableManifestOutput"] = True
    with pytest.raises(InvalidRequest, match="enable the Report or give .*ManifestOutputLocation"):
        parse_create_job(body)
    gen["ManifestOutputLocation"] = {"Bucket": "arn:aws:s3:::out", "ManifestFormat": "S3InventoryReport_CSV_20211130"}
    assert parse_create_job(body).manifest_generator is not None

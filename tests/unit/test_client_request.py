"""Client.create_job's shorthands expand to the S3 shapes parse_create_job takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosbatch.client.htmlview import job_detail, job_table
from cosbatch.client.request import fill_defaults, manifest_body, report_body
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.models import FailureReason, Job, ProgressSummary, utcnow
from cosbatch.wire.dialects import parse_create_job

COPY = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst"}}


def test_manifest_shorthands(tmp_path):
    url = manifest_body("s3://src/m.csv", ("Bucket", "Key", "VersionId"), tmp_path)
    assert url == {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
                   "Location": {"ObjectArn": "s3://src/m.csv"}}
    given = {"Spec": {"Format": "COSBatchOperations_CSV_V1"}, "Location": {"ObjectArn": "qcs::cos:r::b/k"}}
    assert manifest_body(given, ("Bucket", "Key"), tmp_path) is given

    listed = manifest_body(["s3://src/a b+c.jpg", ("src", "d/e")], ("Bucket", "Key", "VersionId"), tmp_path)
    assert listed["Spec"]["Fields"] == ["Bucket", "Key"]
    path = listed["Location"]["ObjectArn"].removeprefix("file://")
    assert Path(path).read_text() == "src,a+b%2Bc.jpg\nsrc,d/e\n"  # URL-encoded, as manifests are
    with pytest.raises(InvalidRequest):
        manifest_body([], ("Bucket", "Key"), tmp_path)
    with pytest.raises(InvalidRequest):
        manifest_body([("not a bucket!", "k")], ("Bucket", "Key"), tmp_path)


def test_report_shorthands():
    assert report_body(None) == {"Enabled": False}
    assert report_body("s3://rep/a/b/") == {"Bucket": "arn:aws:s3:::rep", "Prefix": "a/b", "Enabled": True,
                                           "Format": "Report_CSV_20180820", "ReportScope": "AllTasks"}
    assert report_body("s3://rep")["Bucket"] == "arn:aws:s3:::rep" and "Prefix" not in report_body("s3://rep")
    assert report_body({"Bucket": "arn:aws:s3:::rep", "Format": "Report_Parquet", "ReportScope": "FailedTasksOnly"}
                       )["Format"] == "Report_Parquet"
    with pytest.raises(InvalidRequest):
        report_body("rep/prefix")


def test_defaults_make_a_valid_request(monkeypatch, tmp_path):
    monkeypatch.delenv("COSBATCH_ACCOUNT_ID", raising=False)
    body = fill_defaults({"Manifest": manifest_body("s3://src/m.csv", ("Bucket", "Key"), tmp_path),
                          "Operation": COPY, "Report": report_body(None)}, None)
    request = parse_create_job(body)
    assert request.account_id == "000000000000" and request.priority == 10
    assert request.role_arn == "arn:aws:iam::000000000000:role/cosbatch"
    assert fill_defaults({}, None)["ClientRequestToken"] != fill_defaults({}, None)["ClientRequestToken"]
    assert fill_defaults({"Priority": 3}, "123")["AccountId"] == "123"
    monkeypatch.setenv("COSBATCH_ACCOUNT_ID", "999")
    assert fill_defaults({}, None)["RoleArn"] == "arn:aws:iam::999:role/cosbatch"


def test_html_escapes_every_user_field(tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    request = parse_create_job(fill_defaults({
        "Manifest": manifest_body("s3://src/m.csv", ("Bucket", "Key"), tmp_path), "Operation": COPY,
        "Report": report_body("s3://rep/p"), "Description": evil,
    }, None))
    job = Job(job_id="j-1", account_id="1", confirmation_required=False, description=evil,
              manifest=request.manifest, operation=request.operation, priority=1,
              progress_summary=ProgressSummary(total_number_of_tasks=4, number_of_tasks_succeeded=2,
                                               number_of_tasks_failed=1),
              status=JobStatus.FAILED, status_update_reason=evil, creation_time=utcnow(), report=request.report,
              role_arn="r", client_request_token="t", failure_reasons=[FailureReason.of("X", evil)])
    for html in (job_detail(job), job_table([job])):
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "3/4 (75%), 1 failed" in job_detail(job)


def _finished(tmp_path, status: JobStatus, failed: int, **extra) -> Job:
    request = parse_create_job(fill_defaults({
        "Manifest": manifest_body("s3://src/m.csv", ("Bucket", "Key"), tmp_path), "Operation": COPY,
        "Report": report_body("s3://rep/p")}, None))
    return Job(job_id="j-2", account_id="1", confirmation_required=False, manifest=request.manifest,
               operation=request.operation, priority=1,
               progress_summary=ProgressSummary(total_number_of_tasks=3, number_of_tasks_succeeded=3 - failed,
                                                number_of_tasks_failed=failed),
               status=status, creation_time=utcnow(), report=request.report, role_arn="r",
               client_request_token="t", **extra)


def test_the_notebook_never_shows_a_job_with_failed_tasks_as_a_green_complete(tmp_path):
    green, red = "color:#1a7f37", "color:#cf222e"
    clean = _finished(tmp_path, JobStatus.COMPLETE, 0)
    assert f'<span style="{green};font-weight:600">Complete</span>' in job_detail(clean)
    failing = _finished(tmp_path, JobStatus.COMPLETE, 1)
    for html in (job_detail(failing, by_code={"NoSuchKey": 1}), job_table([failing])):
        assert green not in html
        assert f'<span style="{red};font-weight:600">Complete with 1 failed task</span>' in html
    assert "<th" in job_detail(failing, by_code={"NoSuchKey": 1})
    assert ">Failures</th>" in job_detail(failing, by_code={"NoSuchKey": 1})
    assert "NoSuchKey: 1" in job_detail(failing, by_code={"NoSuchKey": 1})


def test_the_notebook_says_a_trial_is_no_longer_waiting_once_it_finished(tmp_path):
    cause = "Trial run finished: update its status to Ready to run the remaining tasks, or cancel it"
    waiting = _finished(tmp_path, JobStatus.SUSPENDED, 0, suspended_cause=cause)
    done = _finished(tmp_path, JobStatus.COMPLETE, 0, suspended_cause=cause)
    assert ">Suspended</th>" in job_detail(waiting)
    assert ">Was suspended</th>" in job_detail(done) and ">Suspended</th>" not in job_detail(done)

"""The console's job form, without a server: each operation's example parameters are valid; the defaults."""

from __future__ import annotations

import pytest

from cosbatch.api.console_form import EXAMPLES, OPERATIONS, defaults, render, request_body
from cosbatch.api.forms import Form
from cosbatch.reports.layout import ReportLocation
from cosbatch.wire.dialects import parse_create_job


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_has_a_valid_example(operation):
    request = parse_create_job({
        "AccountId": "111122223333", "ClientRequestToken": "t", "Priority": 1, "Report": {"Enabled": False},
        "RoleArn": "arn:aws:iam::111122223333:role/batch", "Operation": {operation: EXAMPLES[operation]},
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": "arn:aws:s3:::bucket/m.csv", "ETag": "0" * 32}}})
    assert request.operation.name == operation


def test_the_default_report_prefix_adds_nothing_to_the_bucket_the_user_names():
    """The form's defaults with report bucket `reports` (the README's name): the report goes to
    s3://reports/job-<id>/, as AWS writes it with no prefix; not to s3://reports/reports/job-<id>/."""
    values = defaults("111122223333")
    values.update(manifest_source="object", manifest_bucket="src", manifest_key="m.csv", report_bucket="reports")
    body = request_body(Form(fields=values), "111122223333")
    assert "Prefix" not in body["Report"]
    job = parse_create_job(body)
    assert ReportLocation(job.report.bucket_name, job.report.prefix or "", "ID").job_dir == "job-ID"
    assert "&lt;bucket&gt;/&lt;prefix&gt;/job-&lt;id&gt;/" in render(defaults("111122223333"), "token", False)

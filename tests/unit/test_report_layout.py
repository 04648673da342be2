"""Report rows: the Report_CSV_20180820 columns, CSV-injection safe, readable back."""

import pytest

from cosbatch.operations import TaskResult
from cosbatch.reports import REPORT_SCHEMA, ReportLocation, format_csv_row, parse_csv_row


def test_schema_columns():
    assert REPORT_SCHEMA == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"


@pytest.mark.parametrize("key", ["plain.txt", "a b/c+d%e.txt", "中文/ключ", "=cmd|' /C calc'!A0", "x,y\"z\nw"])
def test_round_trip(key):
    ok = TaskResult("bkt", key, "v1", True, 200, "", "Successful")
    row = parse_csv_row(format_csv_row(ok).rstrip("\n"))
    assert row == {"Bucket": "bkt", "Key": key, "VersionId": "v1", "TaskStatus": "succeeded",
                   "ErrorCode": "", "HTTPStatusCode": "200", "ResultMessage": "Successful"}


def test_failed_row_and_injection():
    bad = TaskResult("bkt", "k", None, False, 404, "NoSuchKey", "=HYPERLINK(\"x\")", "PermanentFailure")
    line = format_csv_row(bad)
    assert line.count("\n") == 1
    row = parse_csv_row(line.rstrip("\n"))
    assert row["TaskStatus"] == "failed" and row["ErrorCode"] == "NoSuchKey" and row["HTTPStatusCode"] == "404"
    assert row["ResultMessage"].startswith("PermanentFailure: ")
    formula = TaskResult("bkt", "=k", None, False, 500, "=1+1", "=2", "")
    cells = format_csv_row(formula).rstrip("\n").split(",")
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)


def test_location_keys():
    loc = ReportLocation("rep", "/reports/x/", "job1")
    assert loc.results_key(3, "failed") == "reports/x/job-job1/results/seg-000003-failed.csv"
    assert loc.manifest_key == "reports/x/job-job1/manifest.json"
    assert ReportLocation("rep", "", "j").job_key == "job-j/job.json"

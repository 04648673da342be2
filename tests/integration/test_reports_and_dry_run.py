"""Report options (COS format name, Parquet) and dry runs."""

from __future__ import annotations

import json

from cosbatch.cli.outcome import summary_line
from cosbatch.cli.render import describe
from cosbatch.lifecycle import JobStatus
from cosbatch.reports.parquet import read_parquet_rows
from tests.conftest import put_objects
from tests.integration.helpers import (
    copy_request,
    create_and_run,
    op_request,
    read_report,
    write_manifest,
)


def test_parquet_report_has_typed_columns(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"p/{i} ü,+%" for i in range(20)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys] + [(src, "p/missing")])
    body = copy_request(src, "m.csv", dst, rep, token="pq")
    body["Report"]["Format"] = "Report_Parquet"
    job = create_and_run(store, settings, body)
    base = f"reports/job-{job.job_id}"
    manifest = json.loads(s3.get_object(Bucket=rep, Key=f"{base}/manifest.json")["Body"].read())
    assert manifest["Format"] == "Report_Parquet"
    rows = []
    for result in manifest["Results"]:
        assert result["Key"].endswith(".parquet")
        rows += read_parquet_rows(s3.get_object(Bucket=rep, Key=result["Key"])["Body"].read())
    assert len(rows) == 21
    assert sorted(r["Key"] for r in rows if r["TaskStatus"] == "succeeded") == sorted(keys)  # keys as they are
    missing = next(r for r in rows if r["TaskStatus"] == "failed")
    assert missing["HTTPStatusCode"] == 404 and isinstance(missing["HTTPStatusCode"], int)
    assert missing["ErrorCode"] == "NoSuchKey" and missing["VersionId"] is None


def test_cos_report_format_name(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a")])
    body = copy_request(src, "m.csv", dst, rep, token="cosfmt")
    body["Report"]["Format"] = "Report_CSV_V1"
    manifest, rows, _ = read_report(s3, rep, create_and_run(store, settings, body))
    assert manifest["Format"] == "Report_CSV_V1" and len(rows) == 1


def test_dry_run_changes_nothing_and_reports_what_would_happen(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"d/{i}" for i in range(25)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys] + [(src, "d/absent")])
    body = copy_request(src, "m.csv", dst, rep, token="dry", DryRun=True)
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE and job.dry_run and job.describe()["DryRun"] is True
    assert "Contents" not in s3.list_objects_v2(Bucket=dst)  # nothing copied
    # Every summary says it was a dry run: "Complete: 25 succeeded" alone reads as 25 copies.
    assert summary_line(job, {}).startswith(f"Job {job.job_id} Complete, dry run: nothing was changed: 26/26")
    assert "S3PutObjectCopy (" in describe(job) and "; dry run: nothing was changed" in describe(job)
    real = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep, token="real"))
    assert "dry run" not in summary_line(real, {}) and "dry run" not in describe(real)
    _, rows, _ = read_report(s3, rep, job)
    assert len(rows) == 26
    ok = [r for r in rows if r["TaskStatus"] == "succeeded"]
    assert len(ok) == 25
    assert all(r["ResultMessage"] == f"DryRun: would run S3PutObjectCopy to s3://{dst}/{r['Key']}; object exists "
               f"({len(('content of ' + r['Key']).encode())} bytes)" for r in ok)
    absent = next(r for r in rows if r["TaskStatus"] == "failed")
    assert (absent["Key"], absent["ErrorCode"], absent["HTTPStatusCode"]) == ("d/absent", "NoSuchKey", "404")

    # A dry-run delete deletes nothing either.
    job = create_and_run(store, settings, op_request(src, "m.csv", {"S3DeleteObject": {}}, rep, token="drydel",
                                                     DryRun=True))
    assert job.progress_summary.number_of_tasks_succeeded == 25
    assert len([o for o in s3.list_objects_v2(Bucket=src)["Contents"] if o["Key"].startswith("d/")]) == 25

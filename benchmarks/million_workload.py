"""What the million-task jobs do (benchmarks.million_tasks): the operation, the objects it touches
(seeded once, outside the timed part, and reused by every job and runner) and the manifests.

Operations (`--operation`):
- tagging: S3PutObjectTagging of a two-tag set on every object (one PUT ?tagging per task); the
  set names the runner and the job, so a sample read back after a job shows that job tagged them.
- dryrun: cosbatch's DryRun of that tagging job (a HEAD per object; nothing is changed). A task
  whose object is missing fails (NoSuchKey), so a job that completes with every task succeeded
  found every object.
- noop: an Invoke of benchmarks.noop, no request per object; nothing is seeded.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.seeding import object_key, seed_tiny_objects

ACCOUNT = "000000000000"
OPERATIONS = ("tagging", "dryrun", "noop")
DESCRIPTIONS = {
    "tagging": "S3PutObjectTagging (a set of 2 tags) on every object: one PUT ?tagging per task",
    "dryrun": "DryRun of S3PutObjectTagging: one HEAD per object, nothing changed",
    "noop": "Invoke of a no-op function (benchmarks.noop): no request per object to the storage, "
            "the objects are not seeded",
}


@dataclass
class Workload:
    """The seeded bucket, one manifest per job size, and how they were made."""

    operation: str
    bucket: str
    manifests: dict[int, str] = field(default_factory=dict)
    seeded: dict[str, Any] | None = None
    manifest_write_s: float = 0.0

    def tag_set(self, run: str) -> list[dict[str, str]]:
        return [{"Key": "cosbatch-bench", "Value": "million-tasks"}, {"Key": "run", "Value": run}]

    def job_body(self, lines: int, report_bucket: str, run: str) -> dict:
        """CreateJob's body for the `lines`-line manifest; `run` names the job in its tags."""
        if self.operation == "noop":
            operation: dict = {"Invoke": {"Function": "benchmarks.noop:noop"}}
        else:
            operation = {"S3PutObjectTagging": {"TagSet": self.tag_set(run)}}
        return job_body(self.manifests[lines], report_bucket, operation, dry_run=self.operation == "dryrun")

    def check_done(self, client: Any, lines: int, run: str, samples: int = 20) -> int:
        """After the job `run` over the first `lines` objects: read back the tags of a sample of them
        (tagging only; 0 checked otherwise). Raises if one does not carry `run`'s tag set."""
        if self.operation != "tagging":
            return 0
        expected = sorted((t["Key"], t["Value"]) for t in self.tag_set(run))
        picks = sorted({0, lines - 1, *random.sample(range(lines), min(samples, lines))})
        for i in picks:
            got = sorted((t["Key"], t["Value"]) for t in client.get_object_tagging(
                Bucket=self.bucket, Key=object_key(i))["TagSet"])
            if got != expected:
                raise RuntimeError(f"s3://{self.bucket}/{object_key(i)} has tags {got} after job {run}, not {expected}")
        return len(picks)


def job_body(manifest_arn: str, report_bucket: str, operation: dict, dry_run: bool = False) -> dict:
    body = {
        "AccountId": ACCOUNT, "ClientRequestToken": uuid.uuid4().hex, "Priority": 1,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/bench",
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": manifest_arn}},
        "Operation": operation,
        "Report": {"Enabled": True, "Bucket": f"arn:aws:s3:::{report_bucket}", "Format": "Report_CSV_20180820",
                   "Prefix": "bench", "ReportScope": "AllTasks"},
    }
    if dry_run:
        body["DryRun"] = True
    return body


def manifest_body(bucket: str, lines: int) -> bytes:
    """`bucket,obj/00000000` ... : the first `lines` seeded objects, one CSV line each."""
    head = f"{bucket},obj/"
    return "".join([f"{head}{i:08d}\n" for i in range(lines)]).encode()


def prepare(client: Any, endpoint: str, operation: str, sizes: tuple[int, ...], workdir: Path,
            seeder: str) -> Workload:
    """One bucket with max(sizes) objects (seeded unless the operation is noop) and a manifest
    of each size naming the first objects; setup, outside every timed part."""
    workload = Workload(operation, f"m-{uuid.uuid4().hex[:8]}")
    client.create_bucket(Bucket=workload.bucket)
    if operation != "noop":
        seeded = seed_tiny_objects(endpoint, workload.bucket, max(sizes), workdir / "seed", seeder=seeder)
        client.head_object(Bucket=workload.bucket, Key=object_key(max(sizes) - 1))  # the last one is there
        workload.seeded = seeded.as_dict()
    started = time.perf_counter()
    for lines in sorted(set(sizes)):
        key = f"manifests/{lines}-{uuid.uuid4().hex[:6]}.csv"
        client.put_object(Bucket=workload.bucket, Key=key, Body=manifest_body(workload.bucket, lines))
        workload.manifests[lines] = f"arn:aws:s3:::{workload.bucket}/{key}"
    workload.manifest_write_s = time.perf_counter() - started
    return workload

"""Subprocess entry for the memory scenario: run one no-op job over a local manifest of N lines and
print the process's peak RSS (VmHWM) in KiB. Memory must not grow with the manifest."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    store = open_store(f"sqlite:///{tempfile.mkdtemp()}/rss.db")
    body = {
        "AccountId": "000000000000", "ClientRequestToken": "rss", "Priority": 1,
        "RoleArn": "arn:aws:iam::000000000000:role/bench",
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": f"file://{args.manifest}"}},
        "Operation": {"Invoke": {"Function": "benchmarks.noop:noop"}},
        "Report": {"Enabled": False},
    }
    settings = Settings(store_url=store.url, storages=StorageCatalog.at(args.endpoint))
    job = JobService(store, settings.storages).create_job(parse_create_job(body))
    Scheduler(store, settings).run_until_idle()
    done = store.get_job(job.job_id)
    ok = done.status is JobStatus.COMPLETE
    print(json.dumps({"peak_rss_kib": peak_rss_kib(), "tasks": done.progress_summary.number_of_tasks_succeeded,
                      "complete": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

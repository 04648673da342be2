"""What `--undoable` costs a tagging job (issue 24, item 4): the same PutObjectTagging job of N
1 KiB objects, with and without cosbatch:undoable, rounds alternating; and the undo job itself.

`python -m benchmarks.undo [--objects 5000] [--rounds 3]` writes benchmarks/results/undo.{json,md}.
Requests are counted by tests/integration/test_undo.py (test_undoable_costs_one_get_per_task);
this measures the time.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from benchmarks.harness import (
    RESULTS,
    Measurement,
    ScenarioResult,
    alternate,
    bench_credentials,
    check_complete,
    job_body,
    machine,
    now,
    write_results,
)
from benchmarks.scenarios import Env, make_env
from cosbatch.controller import JobService, Scheduler
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}
UNDOABLE = [{"Key": "cosbatch:undoable", "Value": "true"}]


def run(n: int, rounds: int) -> list[ScenarioResult]:
    env = make_env()
    try:
        src, rep = env.bucket("usrc"), env.bucket("urep")
        manifest = env.manifest(src, env.seed(src, "obj", n))
        times = alternate(rounds, {
            "plain": lambda r: env.cosbatch_job(manifest, TAGGING, rep, n),
            "undoable": lambda r: env.cosbatch_job(manifest, TAGGING, rep, n, tags=UNDOABLE),
        })
        undo_times = [undo_seconds(env, manifest, rep, n) for _ in range(rounds)]
        plain, undoable = Measurement("undo", "tagging", "s", times["plain"], False), \
            Measurement("undo", "tagging --undoable", "s", times["undoable"], False)
        undo = Measurement("undo", "the undo job", "s", undo_times, False)
        extra = 100 * (undoable.median / plain.median - 1)
        notes = [f"--undoable: {extra:+.0f}% time ({plain.median:.1f} s -> {undoable.median:.1f} s median), "
                 f"{n / plain.median:.0f} -> {n / undoable.median:.0f} tasks/s",
                 f"undo job: {undo.median:.1f} s median, {n / undo.median:.0f} tasks/s"]
        return [ScenarioResult("undo", f"PutObjectTagging of {n:,} objects, without and with --undoable; its undo",
                               [plain, undoable, undo], "one GET per task at most", undoable.median / plain.median,
                               None, notes)]
    finally:
        env.close()


def undo_seconds(env: Env, manifest: str, rep: str, n: int) -> float:
    """Seconds from creating the undo of a fresh undoable job to its Complete."""
    store = open_store(f"sqlite:///{env.workdir / uuid.uuid4().hex[:8]}.db")
    config = Settings(store_url=store.url, storages=StorageCatalog.at(env.endpoint))
    service = JobService(store, config.storages)
    job = service.create_job(parse_create_job(job_body(manifest, TAGGING, rep, UNDOABLE)))
    scheduler = Scheduler(store, config)
    scheduler.run_until_idle()
    start = time.perf_counter()
    undo = service.create_undo_job(job.job_id)
    scheduler.run_until_idle()
    elapsed = time.perf_counter() - start
    scheduler.close()
    done = store.get_job(undo.job_id)
    store.close()
    check_complete(done, n, "undo job")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.undo")
    parser.add_argument("--objects", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    bench_credentials()
    results = run(args.objects, args.rounds)
    _, md_path = write_results(results, {"mode": f"tagging with and without --undoable, {args.objects:,} objects",
                                         "date": now(), "rounds": args.rounds, "machine": machine()},
                               RESULTS, "undo")
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How good the estimate's duration is (issue 24, item 2): after a trial run, the predicted
seconds against the time the rest of the job then really takes, from confirming it to Complete.

`python -m benchmarks.estimate [--objects 20000] [--trial N] [--rounds 3] [--only tagging]
[--results-name estimate]` writes benchmarks/results/estimate.{json,md} (or NAME.{json,md}). Jobs:
tagging and a same-storage copy of N 1 KiB objects, each with cosbatch:trial-tasks; target: within
+-30%. Each job's trial is sized so that its pieces cover about a second on a quiet machine (the
estimate's TIGHT_SECONDS; under it the estimate calls itself rough and names a larger trial):
1,000 copies, 3,000 taggings (measured 0.8-1.4 s for both); `--trial N` sets one size for both. Each round's note gives the 1-minute load average before and after it (other work on the
machine moves the actual time). Every round's trial timeline is appended to
benchmarks/results/estimate-trials.jsonl, from which `python -m benchmarks.estimate_replay`
recomputes the models on the same trials. The rough variant (tagging's trial of 1,000 covers about
half a second): `--only tagging --trial 1000 --results-name estimate-tagging-1000`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime

from benchmarks.harness import RESULTS, Measurement, ScenarioResult, write_results
from benchmarks.scenarios import Env, make_env
from cosbatch.controller import JobService, Scheduler
from cosbatch.controller import estimate as estimate_module
from cosbatch.lifecycle import JobStatus
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

#: Every round's trial timeline (when the run started, each piece's record time and tasks, when the
#: trial ended), the segments left, the prediction and the actual time, one JSON object a line: the
#: estimators can be compared offline on the same trials (`python -m benchmarks.estimate_replay`).
TRIALS = RESULTS / "estimate-trials.jsonl"


class _Recorder:
    """Wraps the estimate's `predict_rest` to keep the timeline and segments it was given."""

    def __init__(self) -> None:
        self.real = estimate_module.predict_rest
        self.seen: list[dict] = []

    def __call__(self, timeline, remaining):
        self.seen.append({"started": timeline.started, "pieces": sorted(timeline.pieces),
                          "ended": timeline.ended, "remaining": list(remaining)})
        return self.real(timeline, remaining)


def trial_then_rest(env: Env, manifest: str, operation: dict, n: int, trial: int,
                    record: dict | None = None) -> tuple[float, float, str]:
    """(predicted seconds, actual seconds from confirming to Complete, the prediction's basis and what
    the trial's rate alone would have predicted). `record`, if given, gets the trial's timeline."""
    store = open_store(f"sqlite:///{env.workdir / uuid.uuid4().hex[:8]}.db")
    body = {"AccountId": "000000000000", "ClientRequestToken": uuid.uuid4().hex, "Priority": 1,
            "RoleArn": "arn:aws:iam::000000000000:role/bench",
            "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                         "Location": {"ObjectArn": manifest}},
            "Operation": operation, "Report": {"Enabled": False},
            "Tags": [{"Key": "cosbatch:trial-tasks", "Value": str(trial)}]}
    settings = Settings(store_url=store.url, storages=StorageCatalog.at(env.endpoint))
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    scheduler = Scheduler(store, settings)
    recorder = _Recorder()
    estimate_module.predict_rest = recorder
    try:
        scheduler.run_until_idle()
    finally:
        estimate_module.predict_rest = recorder.real
    if record is not None and recorder.seen:
        record.update(recorder.seen[-1])
    waiting = service.describe_job(job.job_id)
    if waiting.status is not JobStatus.SUSPENDED or not waiting.estimate:
        raise RuntimeError(f"no trial estimate: {waiting.status} {waiting.status_update_reason}")
    predicted, basis = waiting.estimate["Seconds"], waiting.estimate["SecondsBasis"]
    rate_only = trial_rate_prediction(store, job.job_id, waiting.estimate["Tasks"])
    start = time.perf_counter()
    service.update_job_status(job.job_id, "Ready")
    scheduler.run_until_idle()
    actual = time.perf_counter() - start
    scheduler.close()
    done = service.describe_job(job.job_id)
    store.close()
    if done.status is not JobStatus.COMPLETE or done.progress_summary.number_of_tasks_succeeded != n:
        raise RuntimeError(f"benchmark job did not complete cleanly: {done.status} {done.progress_summary}")
    if record is not None:
        record.update({"predicted": predicted, "actual": actual, "basis": basis})
    return predicted, actual, (f"{basis}; the trial's rate alone would say {rate_only:.1f} s "
                               f"({100 * (rate_only / actual - 1):+.0f}%)")


def trial_rate_prediction(store, job_id: str, tasks: int) -> float:
    """What the estimate said before the piece model (cosbatch.controller.duration), from the same
    trial: its start to its first piece, then the tasks left at the rate of its later pieces. Shown
    beside the estimate, so each round compares both on the same trial, whatever the machine's load."""
    active = next(h.at for h in store.history(job_id) if h.to_status is JobStatus.ACTIVE).timestamp()
    pieces = sorted((s.finished_at, s.succeeded + s.failed) for s in store.segments(job_id)
                    if s.finished_at is not None and s.succeeded + s.failed)
    rate = sum(n for _, n in pieces[1:]) / (pieces[-1][0] - pieces[0][0])
    return pieces[0][0] - active + tasks / rate


#: Per operation, a trial whose pieces cover about TIGHT_SECONDS on a quiet machine (0.8-1.4 s measured
#: on 2026-12-07; a trial of 1,000 taggings covers 0.3-0.6 s).
TRIAL_TASKS = {"tagging": 3_000, "copy": 1_000}


def run(n: int, trial_wanted: int | None, rounds: int, ops_wanted: list[str] | None = None
        ) -> list[ScenarioResult]:
    env = make_env()
    run_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        src, dst = env.bucket("esrc"), env.bucket("edst")
        manifest = env.manifest(src, env.seed(src, "obj", n))
        ops = {"tagging": {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
               "copy": {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}}
        results = []
        for name, op in ops.items():
            if ops_wanted and name not in ops_wanted:
                continue
            trial = trial_wanted or TRIAL_TASKS[name]
            predicted, actual, notes = [], [], []
            for r in range(rounds):
                print(f"{name} round {r + 1}/{rounds} ...", file=sys.stderr, flush=True)
                load = os.getloadavg()[0]  # two other helpers' work shares this machine: say how busy it was
                record = {"run": run_at, "operation": name, "objects": n, "trial": trial, "round": r + 1}
                p, a, basis = trial_then_rest(env, manifest, op, n, trial, record)
                record["load"] = [load, os.getloadavg()[0]]
                with TRIALS.open("a") as out:
                    out.write(json.dumps(record) + "\n")
                predicted.append(p)
                actual.append(a)
                notes.append(f"round {r + 1} (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after): "
                             f"predicted {p:.1f} s, took {a:.1f} s ({100 * (p / a - 1):+.0f}%); {basis}")
            errors = [100 * (p / a - 1) for p, a in zip(predicted, actual, strict=True)]
            ms = [Measurement(f"estimate-{name}", "predicted", "s", predicted, False),
                  Measurement(f"estimate-{name}", "actual (confirm to Complete)", "s", actual, False)]
            worst = max(abs(e) for e in errors)
            results.append(ScenarioResult(
                f"estimate-{name}", f"{name} of {n:,} objects after a trial of {trial:,}: predicted vs actual", ms,
                "within +-30%", ms[0].median / ms[1].median, worst <= 30, notes))
        return results
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimate")
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--trial", type=int, default=None,
                        help="trial tasks for every job (default: per operation, " +
                        ", ".join(f"{op} {t:,}" for op, t in TRIAL_TASKS.items()) + ")")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", choices=["tagging", "copy"],
                        help="run only this operation (repeatable; default: both)")
    parser.add_argument("--results-name", default="estimate",
                        help="write benchmarks/results/NAME.{json,md} (default: estimate)")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    load = os.getloadavg()[0]
    results = run(args.objects, args.trial, args.rounds, args.only)
    trials = f"{args.trial:,}" if args.trial else ", ".join(f"{op} {t:,}" for op, t in TRIAL_TASKS.items())
    meta = {"load average (1 min) at start, at end": f"{load:.1f}, {os.getloadavg()[0]:.1f}",
            "mode": f"estimate after a trial, {args.objects:,} objects, trial {trials}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "rounds": args.rounds,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    _, md_path = write_results(results, meta, RESULTS, args.results_name)
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

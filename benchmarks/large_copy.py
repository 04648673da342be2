"""Large-object copy (issue 15): GiB/s of a server-side copy of one 1 GiB and one 6 GiB object,
cosbatch against `s5cmd cp`, on the same SeaweedFS in one run, and what `--verify` costs.

cosbatch copies as it must on S3 and COS: one CopyObject up to 5 GiB, above that a multipart
copy (UploadPartCopy of 16 MiB ranges on 8 threads; `multipart_copy_threshold` = 5 GiB).
s5cmd 2.3 sends one CopyObject whatever the size (its multipart copy is not released,
peak/s5cmd#29), which SeaweedFS accepts above 5 GiB and S3 would refuse. Contestants, run in
turn each round, each into a fresh bucket deleted afterwards (disk: the two sources plus one
copy, ~13 GiB):

- `cosbatch job`: CreateJob to Complete of a one-line copy job (Preparing, the pipeline, the copy);
- `cosbatch job --verify`: the same with the job tag cosbatch:verify=true;
- `cosbatch copy alone`: the copy operation on its own, without the job around it;
- `s5cmd cp`.

`python -m benchmarks.large_copy [--smoke] [--rounds N] [--out DIR]` writes large-copy.{json,md}
(default benchmarks/results). --smoke copies 8 and 24 MiB with the threshold at 16 MiB, so both
paths run in seconds; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.harness import (
    RESULTS,
    Measurement,
    ScenarioResult,
    alternate,
    bench_credentials,
    now,
    timed,
    write_results,
)
from benchmarks.scenarios import Env, make_env
from cosbatch.manifests import Task
from cosbatch.models import JobOperation
from cosbatch.operations import operation_for
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.storage.lean import LeanS3Client

GiB, MiB = 1024**3, 1024**2
#: Per mode: the object sizes and the storage's multipart copy threshold and part size.
SIZES = {"smoke": ((8 * MiB, 24 * MiB), 16 * MiB, 5 * MiB), "full": ((1 * GiB, 6 * GiB), 5 * GiB, 16 * MiB)}
VERIFY = [{"Key": "cosbatch:verify", "Value": "true"}]


def _contest(env: Env, storages: StorageCatalog, src: str, key: str, size: int,
             rounds: int) -> dict[str, list[float]]:
    manifest = env.manifest(src, [key])

    def into_fresh_bucket(copy: object) -> float:
        dst = env.bucket("big-dst")
        try:
            seconds = timed(lambda: copy(dst))  # type: ignore[operator]
            if env.client.head_object(Bucket=dst, Key=key)["ContentLength"] != size:
                raise RuntimeError(f"the copy of {key} into {dst} has the wrong size")
            return seconds
        finally:
            env.drop_bucket(dst)

    def job(tags: list[dict] | None) -> float:
        def run(dst: str) -> None:
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
            env.cosbatch_job(manifest, op, None, 1, storages=storages, tags=tags)
        return into_fresh_bucket(run)

    def alone(dst: str) -> None:
        storage = storages.default
        op = operation_for(JobOperation.model_validate({"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}),
                           storage)
        client = LeanS3Client(storage.tuned(max_attempts=1, max_pool_connections=16))
        try:
            op.apply(client, Task(src, key))
        finally:
            op.close()  # type: ignore[attr-defined]
            client.close()

    return alternate(rounds, {
        "cosbatch job": lambda r: job(None),
        "cosbatch job --verify": lambda r: job(VERIFY),
        "cosbatch copy alone": lambda r: into_fresh_bucket(alone),
        "s5cmd cp": lambda r: into_fresh_bucket(lambda dst: env.s5cmd("cp", f"s3://{src}/{key}", f"s3://{dst}/{key}")),
    })


def large_copy(env: Env, mode: str, rounds: int) -> list[ScenarioResult]:
    sizes, threshold, chunk = SIZES[mode]
    storage = replace(implicit_storage(env.endpoint), multipart_copy_threshold=threshold,
                      multipart_chunksize=chunk)
    storages = StorageCatalog.single(storage)
    src = env.bucket("big-src")
    results = []
    for letter, size in zip("kl", sizes, strict=True):
        key = f"object-{size // MiB}MiB"
        env.seed_object(src, key, size)
        secs = _contest(env, storages, src, key, size, rounds)
        label = f"{size / GiB:g} GiB" if size >= GiB else f"{size // MiB} MiB"
        path = "multipart copy (UploadPartCopy)" if size > threshold else "one CopyObject"
        ms = [Measurement(f"large-copy-{label}", who, "GiB/s", [size / GiB / s for s in vals])
              for who, vals in secs.items()]
        by = {m.contestant: m for m in ms}
        verify_cost = statistics.median(secs["cosbatch job --verify"]) / statistics.median(secs["cosbatch job"])
        result = ScenarioResult(f"large-copy-{label}", f"({letter}) copy of one {label} object, cosbatch: {path}",
                                ms, "measured against s5cmd cp (no target)",
                                by["cosbatch job"].median / by["s5cmd cp"].median, None)
        result.notes.append(f"--verify costs {verify_cost:.2f}x the job's time")
        results.append(result)
        env.client.delete_object(Bucket=src, Key=key)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_copy")
    parser.add_argument("--smoke", action="store_true", help="8 and 24 MiB, one round: checks that it runs")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; --smoke 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where large-copy.{json,md} go")
    args = parser.parse_args(argv)
    bench_credentials()
    mode = "smoke" if args.smoke else "full"
    rounds = args.rounds or (1 if args.smoke else 3)
    env = make_env()
    started = time.perf_counter()
    try:
        results = large_copy(env, mode, rounds)
    finally:
        env.server.stop()
        shutil.rmtree(env.workdir, ignore_errors=True)
    meta = {"mode": mode, "rounds": rounds, "date": now(),
            "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
            "seconds": round(time.perf_counter() - started, 1)}
    json_path, md_path = write_results(results, meta, args.out, stem="large-copy")
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

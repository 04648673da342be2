"""Large-object copy (issues 15 and 25): GiB/s of a server-side copy of one 1 GiB and one 6 GiB
object, a cosbatch job against `s5cmd cp` and against the storage server copying alone, on the
same SeaweedFS in one run.

cosbatch copies as it must on S3 and COS (`multipart_copy_threshold` = 5 GiB): the 6 GiB object
as a multipart copy (UploadPartCopy); the 1 GiB object, which the segment's listing shows above
`copy_split_threshold` (256 MiB), in parts too, on the worker's part pool. A source s5cmd
uploaded in parts is copied in parts of its own size. s5cmd 2.3 sends one CopyObject whatever
the size (its multipart copy is not released, peak/s5cmd#29), which SeaweedFS accepts above
5 GiB and S3 would refuse. Contestants, each round starting one further along, each into a
fresh bucket deleted afterwards (disk: the two sources plus one copy, ~13 GiB):

Before the rounds, one untimed 1 KiB copy job warms the process (imports, first clients).

- `cosbatch job`: CreateJob to Complete of a one-line copy job (Preparing, the pipeline, the copy,
  the report's absence: no report);
- `cosbatch job --verify` (only with --verify): the same with the job tag cosbatch:verify=true;
- `s5cmd cp` (`s5cmd cp s3://src/key s3://dst/key`);
- `server alone: CopyObject`: one CopyObject from LeanS3Client, no job (benchmarks/server_ceiling.py);
- `server alone: UploadPartCopy`: a multipart copy in 64 MiB parts, 8 in flight, no job.

The ceiling is the better of the two server-alone medians; the job's ratio to it, and to s5cmd,
is given per round and as the median of the per-round ratios.

`python -m benchmarks.large_copy [--smoke] [--rounds N] [--verify] [--out DIR]` writes
large-copy.{json,md} (default benchmarks/results). --smoke copies 8 and 24 MiB with the
thresholds at 16 MiB, so every path runs in seconds; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks import server_ceiling
from benchmarks.disk_ceiling import write_rates
from benchmarks.harness import (
    RESULTS,
    alternate,
    bench_credentials,
    load_average,
    now,
    timed,
    write_results,
)
from benchmarks.ratios import ceiling_result
from benchmarks.scenarios import Env, make_env
from cosbatch.storage import Storage, StorageCatalog, implicit_storage

GiB, MiB = 1024**3, 1024**2
#: Per mode: the object sizes, the storage's multipart copy threshold, split threshold and part
#: size, and the server-alone multipart copy's part size.
SIZES = {"smoke": ((8 * MiB, 24 * MiB), 16 * MiB, 6 * MiB, 5 * MiB, 5 * MiB),
         "full": ((1 * GiB, 6 * GiB), 5 * GiB, 256 * MiB, 16 * MiB, 64 * MiB)}
VERIFY = [{"Key": "cosbatch:verify", "Value": "true"}]
PART_THREADS = 8


def _contest(env: Env, storage: Storage, src: str, key: str, size: int, rounds: int, verify: bool,
             ceiling_part: int, loads: list[str]) -> dict[str, list[float]]:
    manifest = env.manifest(src, [key])
    storages = StorageCatalog.single(storage)

    def into_fresh_bucket(copy: Callable[[str], object]) -> Callable[[int], float]:
        def run(r: int) -> float:
            dst = env.bucket("big-dst")
            try:
                seconds = timed(lambda: copy(dst))
                if env.client.head_object(Bucket=dst, Key=key)["ContentLength"] != size:
                    raise RuntimeError(f"the copy of {key} into {dst} has the wrong size")
                return seconds
            finally:
                env.drop_bucket(dst)
        return run

    def job(tags: list[dict] | None) -> Callable[[str], object]:
        def run(dst: str) -> None:
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
            env.cosbatch_job(manifest, op, None, 1, storages=storages, tags=tags)
        return run

    contestants = {"cosbatch job": into_fresh_bucket(job(None))}
    if verify:
        contestants["cosbatch job --verify"] = into_fresh_bucket(job(VERIFY))
    contestants.update({
        "s5cmd cp": into_fresh_bucket(lambda dst: env.s5cmd("cp", f"s3://{src}/{key}", f"s3://{dst}/{key}")),
        "server alone: CopyObject": into_fresh_bucket(
            lambda dst: server_ceiling.copy_objects(storage, src, [(key, size)], dst, 1)),
        f"server alone: UploadPartCopy {ceiling_part // MiB} MiB x {PART_THREADS}": into_fresh_bucket(
            lambda dst: server_ceiling.part_copy(storage, src, key, size, dst, ceiling_part, PART_THREADS)),
    })
    return alternate(rounds, contestants, rotate=True, loads=loads)


def warm_up(env: Env, storage: Storage, src: str) -> None:
    """One untimed copy job of a 1 KiB object: the process's first job pays its imports and first
    clients (about 1 s under load), which would otherwise land in the first round's job alone."""
    env.client.put_object(Bucket=src, Key="warm-up", Body=b"x" * 1024)
    dst = env.bucket("warm-up")
    op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
    env.cosbatch_job(env.manifest(src, ["warm-up"]), op, None, 1, storages=StorageCatalog.single(storage))
    env.drop_bucket(dst)
    env.client.delete_object(Bucket=src, Key="warm-up")


def large_copy(env: Env, mode: str, rounds: int, verify: bool) -> list:
    sizes, threshold, split, chunk, ceiling_part = SIZES[mode]
    storage = replace(implicit_storage(env.endpoint), multipart_copy_threshold=threshold,
                      copy_split_threshold=split, multipart_chunksize=chunk)
    src = env.bucket("big-src")
    warm_up(env, storage, src)
    # The disk's own write rate beside the copies: a copy larger than the page cache's dirty
    # allowance runs at the rate the server's writes reach the disk, whichever client sent it.
    disk = write_rates(env.workdir, 4 * GiB if mode == "full" else 64 * MiB)
    results = []
    for letter, size in zip("kl", sizes, strict=True):
        key = f"object-{size // MiB}MiB"
        env.seed_object(src, key, size)
        loads: list[str] = []
        secs = _contest(env, storage, src, key, size, rounds, verify, ceiling_part, loads)
        label = f"{size / GiB:g} GiB" if size >= GiB else f"{size // MiB} MiB"
        path = "multipart copy (UploadPartCopy)" if size > threshold else (
            "split copy (UploadPartCopy on the part pool)" if size > split else "one CopyObject")
        result = ceiling_result(f"large-copy-{label}", f"({letter}) copy of one {label} object, cosbatch: {path}",
                                "GiB/s", {who: [size / GiB / s for s in vals] for who, vals in secs.items()},
                                "s5cmd cp", loads)
        result.notes.append(disk.line())
        if verify:
            cost = [v / j for v, j in zip(secs["cosbatch job --verify"], secs["cosbatch job"], strict=True)]
            result.notes.append(f"--verify's time / the job's, per round: {', '.join(f'{c:.2f}' for c in cost)}")
        results.append(result)
        env.client.delete_object(Bucket=src, Key=key)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_copy")
    parser.add_argument("--smoke", action="store_true", help="8 and 24 MiB, one round: checks that it runs")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5; --smoke 1)")
    parser.add_argument("--verify", action="store_true", help="also a job with cosbatch:verify=true")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where large-copy.{json,md} go")
    args = parser.parse_args(argv)
    bench_credentials()
    mode = "smoke" if args.smoke else "full"
    rounds = args.rounds or (1 if args.smoke else 5)
    env = make_env()
    started = time.perf_counter()
    try:
        results = large_copy(env, mode, rounds, args.verify)
    finally:
        env.close()
    meta = {"mode": mode, "rounds": rounds, "date": now(), "load_at_end": load_average(),
            "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
            "seconds": round(time.perf_counter() - started, 1)}
    json_path, md_path = write_results(results, meta, args.out, stem="large-copy")
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Many large objects in one storage (issue 25): a copy job of 100 x 64 MiB against `s5cmd run`
(a command file of 100 `cp` lines) and against the storage server copying alone, on one
SeaweedFS, in alternating rounds, each round starting one contestant further along, each into a
fresh bucket deleted afterwards (disk: the sources plus one copy, ~13 GiB). One untimed 1 KiB
copy job warms the process first.

- `cosbatch job`: CreateJob to Complete, the controller's defaults (64 threads a segment, 1 GiB of
  copies in flight; 64 MiB is below `copy_split_threshold`, so one CopyObject an object), no report;
- `cosbatch job, split NN MiB` (with --split N, repeatable): the same with the storage's
  `copy_split_threshold` at N MiB, i.e. each object as a split copy on the part pool (A/B);
- `cosbatch job, copy_bytes_in_flight NN MiB` (with --budget N, repeatable; 0: off): the same with
  that budget of whole-object copy bytes in flight (the default, 1 GiB, runs 16 of 64 MiB at once);
- `s5cmd run --numworkers N` for each N of --s5cmd-workers (default 256, s5cmd's own, and 16);
- `server alone: CopyObject x T`: LeanS3Client, one CopyObject an object on T threads, no job
  (benchmarks/server_ceiling.py), for each T of --ceiling-threads (default 8 and 64).

Every copy's size is checked after its timing. `python -m benchmarks.many_large [--smoke]
[--rounds N] [--count N] [--out DIR]` writes many-large.{json,md} (default benchmarks/results).
--smoke: 6 x 6 MiB, one round; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from botocore.exceptions import ClientError

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
from benchmarks.large_copy import warm_up
from benchmarks.ratios import ceiling_result
from benchmarks.scenarios import Env, make_env
from cosbatch.storage import Storage, StorageCatalog, implicit_storage
from cosbatch.storage.lean import LeanS3Client

MiB, GiB = 1024**2, 1024**3
#: Per mode: how many objects, of what size.
SHAPES = {"smoke": (6, 6 * MiB), "full": (100, 64 * MiB)}


def seed(env: Env, storage: Storage, bucket: str, count: int, size: int) -> list[str]:
    """`count` objects of `size` random bytes (one body) under many/: the first uploaded by `s5cmd
    cp`, the others server-side copies of it on 8 threads (on a loaded machine, 100 uploads of 64 MiB
    by s5cmd's 256 workers went at 7 MiB/s)."""
    body = env.workdir / "body"
    body.write_bytes(os.urandom(size))
    keys = [f"many/{i:04d}" for i in range(count)]
    env.s5cmd("cp", str(body), f"s3://{bucket}/{keys[0]}")
    body.unlink()
    client = LeanS3Client(storage.tuned(max_pool_connections=8))

    def copy(key: str) -> None:
        for attempt in range(5):  # SeaweedFS answers InternalError now and then under load
            try:
                client.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": keys[0]}, size=size)
                return
            except ClientError:
                if attempt == 4:
                    raise
                time.sleep(1)

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(copy, keys[1:]))
    finally:
        client.close()
    return keys


def contest(env: Env, storage: Storage, src: str, keys: list[str], size: int, rounds: int,
            variants: dict[str, Storage], s5cmd_workers: list[int], ceiling_threads: list[int], loads: list[str]) -> dict[str, list[float]]:
    manifest = env.manifest(src, keys)

    def into_fresh_bucket(copy: Callable[[str], object]) -> Callable[[int], float]:
        def run(r: int) -> float:
            dst = env.bucket("many-dst")
            try:
                seconds = timed(lambda: copy(dst))
                seen = {o["Key"]: o["Size"] for page in env.client.get_paginator("list_objects_v2").paginate(
                    Bucket=dst) for o in page.get("Contents", [])}
                if seen != dict.fromkeys(keys, size):
                    raise RuntimeError(f"the copies into {dst} are not the {len(keys)} sources")
                return seconds
            finally:
                env.drop_bucket(dst)
        return run

    def job(copy_storage: Storage) -> Callable[[str], object]:
        def run(dst: str) -> None:
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
            env.cosbatch_job(manifest, op, None, len(keys), storages=StorageCatalog.single(copy_storage))
        return run

    def s5cmd_run(workers: int) -> Callable[[str], object]:
        def run(dst: str) -> None:
            commands = env.workdir / f"copy-{dst}.txt"
            commands.write_text("".join(f"cp s3://{src}/{k} s3://{dst}/{k}\n" for k in keys))
            env.s5cmd("--log", "error", "--numworkers", str(workers), "run", str(commands))
        return run

    contestants = {"cosbatch job": into_fresh_bucket(job(storage))}
    for name, variant in variants.items():
        contestants[f"cosbatch job, {name}"] = into_fresh_bucket(job(variant))
    for workers in s5cmd_workers:
        contestants[f"s5cmd run --numworkers {workers}"] = into_fresh_bucket(s5cmd_run(workers))
    for threads in ceiling_threads:
        contestants[f"server alone: CopyObject x {threads}"] = into_fresh_bucket(
            lambda dst, t=threads: server_ceiling.copy_objects(storage, src, [(k, size) for k in keys], dst, t))
    def logged(name: str, run: Callable[[int], float]) -> Callable[[int], float]:
        def go(r: int) -> float:
            seconds = run(r)
            print(f"round {r + 1}: {name}: {seconds:.2f} s (load {load_average()})", file=sys.stderr, flush=True)
            return seconds
        return go

    return alternate(rounds, {name: logged(name, run) for name, run in contestants.items()}, rotate=True,
                     loads=loads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.many_large")
    parser.add_argument("--smoke", action="store_true", help="6 x 6 MiB, one round: checks that it runs")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5; --smoke 1)")
    parser.add_argument("--count", type=int, default=None, help="objects (default 100; --smoke 6)")
    parser.add_argument("--split", type=int, action="append", default=[], metavar="MIB",
                        help="also a job whose copy_split_threshold is MIB (repeatable)")
    parser.add_argument("--budget", type=int, action="append", default=[], metavar="MIB",
                        help="also a job whose copy_bytes_in_flight is MIB, 0: off (repeatable)")
    parser.add_argument("--s5cmd-workers", type=int, action="append", default=None, metavar="N")
    parser.add_argument("--ceiling-threads", type=int, action="append", default=None, metavar="T")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where many-large.{json,md} go")
    args = parser.parse_args(argv)
    bench_credentials()
    mode = "smoke" if args.smoke else "full"
    rounds = args.rounds or (1 if args.smoke else 5)
    count, size = SHAPES[mode]
    count = args.count or count
    splits = [m * MiB for m in args.split] or ([5 * MiB] if args.smoke else [])
    budgets = [m * MiB for m in args.budget]
    s5cmd_workers = args.s5cmd_workers or ([16] if args.smoke else [256, 16])
    ceiling_threads = args.ceiling_threads or ([8] if args.smoke else [8, 64])
    env = make_env()
    started = time.perf_counter()
    loads: list[str] = []
    try:
        storage = implicit_storage(env.endpoint)
        src = env.bucket("many-src")
        seed_s = timed(lambda: seed(env, storage, src, count, size))
        keys = [f"many/{i:04d}" for i in range(count)]
        warm_up(env, storage, src)
        disk = write_rates(env.workdir, 64 * MiB if args.smoke else 4 * GiB)  # the limit beside the copies
        variants = {f"split {m // MiB} MiB": replace(storage, copy_split_threshold=m) for m in splits}
        variants.update({f"copy_bytes_in_flight {f'{m // MiB} MiB' if m else 'off'}":
                         replace(storage, copy_bytes_in_flight=m or None) for m in budgets})
        secs = contest(env, storage, src, keys, size, rounds, variants, s5cmd_workers, ceiling_threads, loads)
    finally:
        env.close()
    total = count * size / GiB
    label = f"{count} x {size // MiB} MiB"
    peers = [who for who in secs if who.startswith("s5cmd run")]
    # The peer is s5cmd at its best: the setting with the best median in this run.
    values = {who: [total / s for s in vals] for who, vals in secs.items()}
    best = max(peers, key=lambda who: sorted(values[who])[len(values[who]) // 2])
    result = ceiling_result("many-large", f"(m) copy job of {label} in one storage, cosbatch: one CopyObject an "
                            f"object", "GiB/s", values, best, loads)
    result.notes.append(f"peer: the s5cmd setting with the best median ({best}); seeded in {seed_s:.1f} s")
    result.notes.append(disk.line())
    meta = {"mode": mode, "rounds": rounds, "date": now(), "load_at_end": load_average(), "objects": count,
            "object_bytes": size, "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} "
            f"{platform.python_version()}", "seconds": round(time.perf_counter() - started, 1)}
    json_path, md_path = write_results([result], meta, args.out, stem="many-large")
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

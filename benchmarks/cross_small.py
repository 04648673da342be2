"""Cross-storage copy of many small objects (issue 25): N x 1 KiB from one SeaweedFS to another,
a cosbatch copy job against a tuned `rclone copy`, and a raw ceiling.

Contestants, in turn each round (each round starting one further along), each into its own
prefix of the same target bucket:

- `cosbatch job`: CreateJob to Complete of a copy job whose target is the other storage: one GET
  (its headers stand for the HEAD) and one PUT over a pooled keep-alive connection an object, the
  PUT carrying the source's MD5 as Content-MD5 and its ETag checked against the source's;
- `cosbatch job, HEAD + PUT on a new connection (before)`: the same job with the path it had
  before: HEAD, GET (If-Match), PUT streamed on a new connection, the same checks (A/B in one run);
- `rclone copy` (cross_storage.RCLONE_SMALL): rclone between the same two servers, tuned: 128 transfers
  and checkers, no bucket check, no HEAD after each upload, no listing of the (empty) destination.
  rclone still checks each copy's MD5 against the source's (no --ignore-checksum);
- `raw ceiling` (benchmarks.relay_ceiling): 128 threads, each with one keep-alive plain socket to either
  server, GET -> PUT of each object, signed (SigV4, unsigned payload) and nothing checked: what
  this machine's Python moves between the two servers with no job and no verification.

`python -m benchmarks.cross_small [--objects N] [--rounds N] [--smoke] [--out FILE]` prints a
markdown table (medians, every round, ratio to rclone, load average per round).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable

from benchmarks import harness
from benchmarks.cross_large import patched
from benchmarks.cross_storage import RCLONE_SMALL, TwoStorages
from benchmarks.relay_ceiling import RawSmallCopier, raw_ceiling
from benchmarks.scenarios import make_env
from cosbatch.manifests import Task
from cosbatch.operations.transfer import CrossStorageCopyOperation, _Relay
from cosbatch.operations.verify import mismatch
from cosbatch.storage import implicit_storage
from cosbatch.storage.lean import LeanS3Client

RCLONE = "rclone copy --transfers 128 (tuned)"
BEFORE = "cosbatch job, HEAD + PUT on a new connection (before)"
CEILING = "raw ceiling"


def before_apply(self: CrossStorageCopyOperation, client: LeanS3Client, task: Task) -> str:
    """CrossStorageCopyOperation.apply as it was before (for a source whose ETag is its MD5):
    HEAD, then GET (If-Match), then the PUT streamed on a new connection, Content-MD5 checked."""
    import base64

    target = self._target_client()
    key = self.params.target_key(task.key)
    size, source_etag, head = self._head(client, task)
    headers = self._put_headers(client, task, head)
    reader = _Relay(client.get_object_raw(task.bucket, task.key, task.version_id,
                                          {"if-match": f'"{source_etag}"'}), hashed=False)
    checked = {**headers, "content-md5": base64.b64encode(bytes.fromhex(source_etag)).decode()}
    try:
        etag = target.put_object_chunks(self.target_bucket, key, reader.chunks(), size, checked)
    finally:
        reader.release()
    if reader.length != size or etag != source_etag:
        raise mismatch(f"{key}: the copy does not match")
    return f"Successful: {size} bytes, ETag {etag}"


def contest(two: TwoStorages, n: int, rounds: int, loads: list[str], cpu: dict[str, list[float]] | None = None, *,
            before: bool = True, size: int = 1024) -> dict[str, list[float]]:
    """Seconds of each contestant, every round; with `cpu`, each one's client CPU seconds too."""
    cpu = {} if cpu is None else cpu
    env = two.env
    src = env.bucket("xs-src")
    keys = env.seed(src, "obj", n, size)
    manifest = env.manifest(src, keys)
    dst = two.away_bucket("xs-dst")
    home = LeanS3Client(implicit_storage(env.endpoint))
    away = LeanS3Client(two.catalog.get("away"))
    copier = RawSmallCopier(home, away)
    two.warm_up()

    def job(prefix: str, name: str) -> Callable[[int], float]:
        def run(r: int) -> float:
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}",
                                      "TargetKeyPrefix": f"{prefix}-{r}"}}
            return harness.cpu_timed(lambda: two.cosbatch_job(manifest, op, n), name, cpu)
        return run

    def job_before(r: int) -> float:
        with patched(CrossStorageCopyOperation, "apply", before_apply):
            return job("old", BEFORE)(r)

    def rclone(r: int) -> float:
        return harness.cpu_timed(lambda: two.rclone("copy", f"home:{src}/obj", f"away:{dst}/rclone-{r}", *RCLONE_SMALL),
                         RCLONE, cpu)

    def ceiling(r: int) -> float:
        return harness.cpu_timed(lambda: raw_ceiling(copier, src, keys, dst, f"raw-{r}"), CEILING, cpu)

    contestants: dict[str, Callable[[int], float]] = {"cosbatch job": job("cb", "cosbatch job")}
    if before:
        contestants[BEFORE] = job_before
    contestants.update({RCLONE: rclone, CEILING: ceiling})
    try:
        return harness.alternate(rounds, contestants, rotate=True, loads=loads)
    finally:
        copier.close()
        home.close()
        away.close()


def main(argv: list[str] | None = None) -> int:
    parser = harness.table_parser("cross_small", "50 objects, one round: checks that it runs")
    parser.add_argument("--objects", type=int, default=5000)
    parser.set_defaults(rounds=5)
    args = parser.parse_args(argv)
    harness.bench_credentials()
    n, rounds = (50, 1) if args.smoke else (args.objects, args.rounds)
    env = make_env()
    two = TwoStorages(env)
    loads: list[str] = []
    cpu: dict[str, list[float]] = {}
    try:
        secs = contest(two, n, rounds, loads, cpu)
    finally:
        two.close()
        env.close()
    peer = statistics.median(secs[RCLONE])
    rows = [(name, f"{n / statistics.median(vals):.0f}", harness.listed((n / v for v in vals), ".0f"),
             f"{peer / statistics.median(vals):.2f}x",
             harness.listed((peer_v / v for peer_v, v in zip(secs[RCLONE], vals, strict=True)), ".2f"),
             f"{1000 * statistics.median(cpu[name]) / n:.2f}")
            for name, vals in secs.items()]
    header = ("contestant", "median objects/s", "rounds (objects/s)", "ratio to rclone (medians)",
              "ratio to rclone (per round)", "client CPU ms per object (median)")
    harness.publish([f"Cross-storage copy of {n:,} x 1 KiB between two SeaweedFS servers, "
                     + harness.conditions(rounds, loads), "",
                     f"rclone: `rclone copy home:SRC/obj away:DST/PREFIX {' '.join(RCLONE_SMALL)}`", "",
                     *harness.markdown_table(header, rows)], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

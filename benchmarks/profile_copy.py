"""Where cosbatch's client CPU goes per copy (issue 19): `python -m benchmarks.profile_copy [N]`.

Seeds N x 1 KiB objects (default 20,000), then samples this process with py-spy while one copy
job runs (create to Complete, DirectRunner), and sorts every on-CPU sample into the part of the
hot path it belongs to: the innermost frame that a rule below claims decides. Prints a table of
CPU ms per copy by part. Needs `py-spy` (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

#: (part, substrings of a frame "function (file:line)"), tried from the innermost frame outwards.
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("SigV4 signing", ("sign (cosbatch/storage/lean.py", "hmac.py", "_hashlib")),
    ("HTTP request + response (raw_http, sockets)", ("raw_http.py", "urllib3/", "http/client.py", "socket.py")),
    ("XML/response parsing", ("xml/", "ElementTree", "_parse_error", "expat")),
    ("report + result records", ("cosbatch/reports/", "record_results.py", "TaskResult")),
    ("store + progress bookkeeping", ("cosbatch/store/", "sqlite3", "job_control.py", "psycopg")),
    ("manifest read + Preparing", ("cosbatch/manifests/", "read_manifest.py", "preparer.py", "preflight.py")),
    ("operation + retries (cosbatch)", ("cosbatch/operations/", "apply_operation.py", "rate_limit.py")),
    ("thread pool handoff + locks", ("concurrent/futures/", "threading.py", "queue.py")),
    ("Beam runner + pipeline start", ("apache_beam/", "grpc", "google/protobuf")),
    ("other Python (imports, logging, GC)", ("",)),
]


def part_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for part, needles in RULES[:-1]:
            if any(n in frame for n in needles):
                return part
    return RULES[-1][0]


def summarise(raw: Path, rate: int, n: int) -> list[tuple[str, float, float]]:
    """(part, CPU ms per copy, share) from py-spy's raw (collapsed-stack) output."""
    samples: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples[part_of(stack)] += int(count)
    total = sum(samples.values()) or 1
    return [(part, 1000 * c / rate / n, c / total) for part, c in samples.most_common()]


def main(argv: list[str]) -> int:
    from benchmarks.scenarios import make_env

    n = int(argv[0]) if argv else 20_000
    rate = 100
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    env = make_env()
    try:
        src, dst, rep = env.bucket("prof"), env.bucket("profd"), env.bucket("rep")
        manifest = env.manifest(src, env.seed(src, "small", n))
        warm = env.manifest(src, env.seed(src, "warm", 10))
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
        env.cosbatch_job(warm, op, rep, 10)  # imports and first-use costs are paid outside the profile
        raw = env.workdir / "profile.txt"
        recorder = subprocess.Popen([spy, "record", "--pid", str(os.getpid()), "--rate", str(rate),
                                     "--format", "raw", "--output", str(raw), "--subprocesses", "--gil"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let py-spy attach
        seconds = env.cosbatch_job(manifest, op, rep, n)
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)
        if os.environ.get("COSBATCH_PROFILE_KEEP"):
            shutil.copy(raw, os.environ["COSBATCH_PROFILE_KEEP"])
        rows = summarise(raw, rate, n)
        total = sum(ms for _, ms, _ in rows)
        print(f"{n:,} copies in {seconds:.1f} s ({n / seconds:,.0f} objects/s); "
              f"client CPU sampled: {total:.3f} ms per copy\n")
        print("| part of the hot path | CPU ms per copy | share |\n|---|---|---|")
        for part, ms, share in rows:
            print(f"| {part} | {ms:.3f} | {100 * share:.0f}% |")
    finally:
        env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

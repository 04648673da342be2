"""`python -m benchmarks run [--quick | --smoke] [--rounds N] [--only copy,delete,...] [--out DIR]`"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import scenarios
from benchmarks.harness import RESULTS, write_results

ALL = ("copy", "copy-load", "half-job", "delete", "tagging", "latency", "memory", "store", "http", "cross", "ratelimit", "cpu")
#: Per mode: objects per throughput scenario, (small, large) manifest lines, jobs stored, HTTP seconds per round.
SIZES = {
    "smoke": (100, (1_000, 10_000), 1_000, 1.0),
    "quick": (5_000, (20_000, 200_000), 10_000, 5.0),
    "full": (20_000, (100_000, 1_000_000), 100_000, 5.0),
}
#: Per mode: cross-storage copies (1 KiB objects, 64 MiB objects), rate-limited tasks and their limit.
CROSS = {"smoke": (50, 1, 200, 100.0), "quick": (2_000, 4, 1_000, 200.0), "full": (5_000, 8, 3_000, 300.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the scenarios and write benchmarks/results/latest.{json,md}")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (5,000 objects)")
    size.add_argument("--smoke", action="store_true",
                      help="tiny sizes, one round: checks that every scenario runs (CI); its figures mean nothing")
    run.add_argument("--rounds", type=int, default=None,
                     help="alternating rounds (default 3, cross-storage 5; --smoke 1)")
    run.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    run.add_argument("--out", type=Path, default=RESULTS, help="where latest.{json,md} go (default benchmarks/results)")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    rounds = args.rounds or (1 if args.smoke else 3)
    n, (small, large), jobs, http_s = SIZES[mode]
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    env = scenarios.make_env()
    results = []
    try:
        for name in chosen:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            if name == "copy":
                results.append(scenarios.copy(env, n, rounds))
            elif name == "copy-load":
                results.append(scenarios.copy_under_load(env, n, rounds))
            elif name == "half-job":
                results.append(scenarios.half_job(env, n, rounds))
            elif name == "delete":
                results.append(scenarios.delete(env, n, rounds))
            elif name == "tagging":
                results.append(scenarios.tagging(env, n, rounds))
            elif name == "latency":
                results.append(scenarios.latency(env, rounds))
            elif name == "memory":
                results.append(scenarios.memory(env, small, large))
            elif name == "store":
                results.append(scenarios.store_queries(env, jobs))
            elif name == "cross":
                from benchmarks.cross_storage import cross_copy

                # At least 5 rounds (issue 25): the cross-storage ratios' noise is wide on a shared machine.
                cross_rounds = args.rounds or (1 if mode == "smoke" else 5)
                results.extend(cross_copy(env, CROSS[mode][0], CROSS[mode][1], cross_rounds))
            elif name == "ratelimit":
                from benchmarks.cross_storage import rate_limit

                results.append(rate_limit(env, CROSS[mode][2], CROSS[mode][3], rounds))
            elif name == "cpu":
                from benchmarks.cpu_cost import copy_cpu, delete_cpu

                results += [copy_cpu(env, n, rounds), delete_cpu(env, n, rounds)]
            elif name == "http":
                from benchmarks.http_api import http_describe

                results.append(http_describe(env.workdir, rounds, seconds=http_s))
            else:
                parser.error(f"unknown scenario {name}")
    finally:
        env.close()
    meta = {"mode": mode, "rounds": rounds,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"}
    json_path, md_path = write_results(results, meta, args.out)
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks run [--quick] [--rounds N] [--only copy,delete,...]`"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
from datetime import UTC, datetime

from benchmarks import scenarios
from benchmarks.harness import write_results

ALL = ("copy", "delete", "tagging", "latency", "memory", "store", "http")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the scenarios and write benchmarks/results/latest.{json,md}")
    run.add_argument("--quick", action="store_true", help="smaller sizes (CI-friendly)")
    run.add_argument("--rounds", type=int, default=3)
    run.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    n = 5_000 if args.quick else 20_000
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    env = scenarios.make_env()
    results = []
    try:
        for name in chosen:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            if name == "copy":
                results.append(scenarios.copy(env, n, args.rounds))
            elif name == "delete":
                results.append(scenarios.delete(env, n, args.rounds))
            elif name == "tagging":
                results.append(scenarios.tagging(env, n, args.rounds))
            elif name == "latency":
                results.append(scenarios.latency(env, args.rounds))
            elif name == "memory":
                small, large = (20_000, 200_000) if args.quick else (100_000, 1_000_000)
                results.append(scenarios.memory(env, small, large))
            elif name == "store":
                results.append(scenarios.store_queries(env, 10_000 if args.quick else 100_000))
            elif name == "http":
                from benchmarks.http_api import http_describe

                results.append(http_describe(env.workdir, args.rounds))
            else:
                parser.error(f"unknown scenario {name}")
    finally:
        env.server.stop()
        shutil.rmtree(env.workdir, ignore_errors=True)
    meta = {"mode": "quick" if args.quick else "full", "rounds": args.rounds,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"}
    json_path, md_path = write_results(results, meta)
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

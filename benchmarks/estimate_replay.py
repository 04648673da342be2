"""The estimate's duration models on the same trials: every round `python -m benchmarks.estimate`
ran is in benchmarks/results/estimate-trials.jsonl (the trial's timeline, the segments left, the
actual time); this recomputes each model from it, so they are compared without the machine's
noise between them.

`python -m benchmarks.estimate_replay [--run "2026-12-07 01:08 UTC" ...] [--operation tagging]`

Models: `5d7f8f1` (the line as committed in 5d7f8f1: Theil-Sen slope, a negative fixed part taken as
none with the slope kept) and `now` (cosbatch.controller.duration as it is), with the rest at the
quartiles of the pieces' slopes (whether the actual time fell inside) and whether it was rough.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks.estimate import TRIALS
from cosbatch.controller.duration import TrialTimeline, predict_rest


def committed_5d7f8f1(trial: dict) -> float | None:
    """The rest's seconds as 5d7f8f1 predicted them (frozen here); None where its fit failed."""
    done = sorted(map(tuple, trial["pieces"]))
    gaps = [(n, at - before) for (before, _), (at, n) in zip(done, done[1:], strict=False)]
    slopes = [(d2 - d1) / (n2 - n1) for i, (n1, d1) in enumerate(gaps) for n2, d2 in gaps[i + 1:]
              if abs(n2 - n1) >= 0.25 * max(n1, n2)]
    per_task = statistics.median(slopes)
    if per_task <= 0:
        return None
    fixed = max(0.0, statistics.median([d - n * per_task for n, d in gaps]))
    start = max(0.0, done[0][0] - trial["started"] - (fixed + per_task * done[0][1]))
    end = max(0.0, trial["ended"] - done[-1][0])
    return start + sum(fixed + per_task * n for n in trial["remaining"]) + end


def replay(rows: list[dict]) -> list[str]:
    lines = ["| run (UTC) | operation | trial | round | load before, after | actual | 5d7f8f1 | now | "
             "now: slopes' quartiles | pieces covered |", "|---|---|---|---|---|---|---|---|---|---|"]
    errors: dict[tuple[str, int], dict[str, list[float]]] = {}
    for r in rows:
        if "actual" not in r:
            continue
        p = predict_rest(TrialTimeline(r["started"], [tuple(x) for x in r["pieces"]], r["ended"]), r["remaining"])
        old, a = committed_5d7f8f1(r), r["actual"]
        if p is None or old is None:  # no line (a slope not positive): the estimate fell back to the trial's rate
            fallback = f"{100 * (r['predicted'] / a - 1):+.0f}% (trial's rate)"
            lines.append(f"| {r['run']} | {r['operation']} | {r['trial']:,} | {r['round']} | "
                         f"{r['load'][0]:.1f}, {r['load'][1]:.1f} | {a:.1f} s | "
                         f"{fallback if old is None else f'{100 * (old / a - 1):+.0f}%'} | "
                         f"{fallback if p is None else f'{100 * (p.seconds / a - 1):+.0f}%'} | - | - |")
            e = errors.setdefault((r["operation"], r["trial"]), {"5d7f8f1": [], "now": [], "inside": []})
            e["5d7f8f1"].append(100 * ((old if old is not None else r["predicted"]) / a - 1))
            e["now"].append(100 * ((p.seconds if p is not None else r["predicted"]) / a - 1))
            continue
        lo, hi = p.spread
        inside = lo is not None and hi is not None and lo <= a <= hi
        e = errors.setdefault((r["operation"], r["trial"]), {"5d7f8f1": [], "now": [], "inside": []})
        e["5d7f8f1"].append(100 * (old / a - 1))
        e["now"].append(100 * (p.seconds / a - 1))
        e["inside"].append(inside)
        quart = "-" if lo is None or hi is None else f"{lo:.1f}-{hi:.1f} s ({'in' if inside else 'out'})"
        lines.append(f"| {r['run']} | {r['operation']} | {r['trial']:,} | {r['round']} | "
                     f"{r['load'][0]:.1f}, {r['load'][1]:.1f} | {a:.1f} s | {100 * (old / a - 1):+.0f}% | "
                     f"{100 * (p.seconds / a - 1):+.0f}% | {quart} | {p.covered:.2f} s{' (rough)' if p.rough else ''} |")
    lines.append("")
    for (op, trial), e in errors.items():
        k = len(e["now"])
        lines.append(f"- {op}, trial {trial:,}: within +-30%: 5d7f8f1 {sum(abs(x) <= 30 for x in e['5d7f8f1'])}/{k}, "
                     f"now {sum(abs(x) <= 30 for x in e['now'])}/{k}; median |error| 5d7f8f1 "
                     f"{statistics.median(map(abs, e['5d7f8f1'])):.0f}%, now {statistics.median(map(abs, e['now'])):.0f}%; "
                     f"actual inside the slopes' quartiles {sum(e['inside'])}/{len(e['inside'])}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimate_replay")
    parser.add_argument("--trials", type=Path, default=TRIALS)
    parser.add_argument("--run", action="append", help="only this run (its 'run' field; repeatable)")
    parser.add_argument("--operation", action="append", choices=["tagging", "copy"])
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.trials.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if (not args.run or r["run"] in args.run)
            and (not args.operation or r["operation"] in args.operation)]
    print("\n".join(replay(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

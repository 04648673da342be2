"""A job against its peer and against the server's own ceiling, round by round (issue 25, item 4).

Contestants whose name starts with "server alone" are the ceiling's shapes: in each round the
ceiling is the fastest of them. Every ratio is given per round (the contestants ran back to back
in that round) and as the median of those per-round ratios, beside the load average at each
round's start, so that a gain can be told from the shared machine's noise.
"""

from __future__ import annotations

import statistics

from benchmarks.harness import Measurement, ScenarioResult, listed

JOB = "cosbatch job"
CEILING = "server alone"


def per_round(ours: list[float], theirs: list[float]) -> list[float]:
    """ours / theirs in each round (throughputs: above 1, ours was faster)."""
    return [o / t for o, t in zip(ours, theirs, strict=True)]


def ceiling_result(name: str, title: str, unit: str, values: dict[str, list[float]], peer: str,
                   loads: list[str]) -> ScenarioResult:
    """The scenario's measurements (throughputs, higher is better), with its ratio to `peer` (median
    of the per-round ratios) and notes: every per-round ratio, the ceiling's, and the loads."""
    ms = [Measurement(name, who, unit, vals) for who, vals in values.items()]
    alone = [vals for who, vals in values.items() if who.startswith(CEILING)]
    ceiling = [max(r) for r in zip(*alone, strict=True)] if alone else []
    vs_peer = per_round(values[JOB], values[peer])
    result = ScenarioResult(name, title, ms, f"{JOB} >= 1.0x {peer} and >= 0.9x the server alone",
                            statistics.median(vs_peer))
    result.notes.append(f"{JOB} / {peer} per round: {listed(vs_peer, '.2f')} (median {statistics.median(vs_peer):.2f}x)")
    if ceiling:
        vs_ceiling = per_round(values[JOB], ceiling)
        peer_ceiling = per_round(values[peer], ceiling)
        result.notes.append(f"ceiling (fastest server-alone shape in the round): {listed(ceiling, '.3g')} {unit}, "
                            f"median {statistics.median(ceiling):.3g}")
        result.notes.append(f"{JOB} / ceiling per round: {listed(vs_ceiling, '.2f')} "
                            f"(median {statistics.median(vs_ceiling):.2f}x)")
        result.notes.append(f"{peer} / ceiling per round: {listed(peer_ceiling, '.2f')} "
                            f"(median {statistics.median(peer_ceiling):.2f}x)")
        result.passed = statistics.median(vs_peer) >= 1.0 and statistics.median(vs_ceiling) >= 0.9
    result.notes.append("load average (1, 5, 15 min) at each round's start: " + "; ".join(loads))
    return result

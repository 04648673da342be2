"""How long the rest of a job will take, from its trial's timeline (the estimate's `Seconds`).

A segment costs a fixed part (reading its piece of the manifest, recording it, filling and
draining its concurrency) plus a part per task. A trial's pieces are smaller than the job's
segments (66 and 134 tasks where the job's are 1,000), so the trial's tasks-per-second alone
under-states the rate of the rest (measured: about 2,000 tasks/s against 2,800, +35 to +51%).
The trial runs pieces of two sizes (cosbatch.controller.trial.PIECE_WEIGHTS); the gaps between
the times at which they were recorded are their durations, and pieces of different sizes give
both parts (`fit_piece_cost`). The rest is then predicted from the sizes of the segments it will
run: start + the sum of each segment's seconds + end, with the pipeline's start and end as the
trial's were: the fitted line run on to each segment's size. (The longest piece's own cost per
task, which assumes no gain past the sizes the trial saw, is kept as the high bound the basis
names: on a quiet machine it over-stated the job by 20-70%; benchmarks/results/estimate.md
has the line's errors.) The slope is capped at the pieces' own median seconds a task: a fixed
part cannot be negative, so a steeper slope is two pieces' noise (a burst of other work on the
larger ones), not a task's cost.

How tight it is: the rest at the lower and upper quartiles of the pieces' pairwise slopes, and
whether the pieces covered TIGHT_SECONDS (a trial of 1,000 tagging tasks covers 0.3-0.7 s; its
estimate is called rough).

The gaps are a piece's duration where a run takes its segments one at a time (the DirectRunner in
memory, the default and what the benchmark measures). Where several workers take segments side by
side, the gaps interleave them; the fit is then not measured (see docs/trust.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Two pieces tell the per-task part apart from the fixed part when the smaller has at most
#: 1 - DIFFERENT of the larger's tasks (the trial's pieces: 66 and 134).
DIFFERENT = 0.25


@dataclass(frozen=True)
class PieceCost:
    """Seconds a segment of n tasks adds to a run: `fixed + n * per_task`."""

    fixed: float
    per_task: float

    def seconds(self, tasks: int) -> float:
        return self.fixed + tasks * self.per_task


def fit_piece_cost(pieces: list[tuple[float, int]], slope: float | None = None) -> PieceCost | None:
    """The cost of a piece from (time recorded, tasks) of a run's pieces (any order), or None where
    it cannot be told: fewer than three pieces, or no two of clearly different sizes.

    Each piece after the first took the gap since the one recorded before it (its own duration
    where pieces run one after another). Both parts are medians, so a piece slowed by a burst of
    other work on the machine moves neither: the per-task part is the median of the slopes between
    pieces of different sizes (Theil-Sen), the fixed part the median of what each piece took beyond
    its tasks. A fixed part cannot be negative, so no task costs more than the pieces' own median
    seconds a task (their line through none): a slope steeper than that (two pieces' noise, not a
    task's cost) is taken at that rate. A negative fixed part left (noise) is taken as none; a
    per-task part that is not positive gives None. `slope`, if given, is taken as the per-task
    part as it is, uncapped (the fixed part fitted to it): how the spread of the slopes is turned
    into seconds."""
    gaps = piece_gaps(pieces)
    slopes = pair_slopes(gaps)
    if not slopes:
        return None
    per_task = min(_median(slopes), _median([d / n for n, d in gaps])) if slope is None else slope
    if per_task < 0 or (per_task == 0 and slope is None):
        return None
    fixed = _median([d - n * per_task for n, d in gaps])
    if fixed < 0:  # noise around none: the slope stays the evidence of a task's cost
        fixed = 0.0
    return PieceCost(fixed, per_task)


def piece_gaps(pieces: list[tuple[float, int]]) -> list[tuple[int, float]]:
    """(tasks, seconds since the piece recorded before it) of every piece after the first."""
    done = sorted(pieces)
    return [(n, at - before) for (before, _), (at, n) in zip(done, done[1:], strict=False)]


def pair_slopes(gaps: list[tuple[int, float]]) -> list[float]:
    """The slopes between every two pieces of clearly different sizes, ascending."""
    return sorted((d2 - d1) / (n2 - n1) for i, (n1, d1) in enumerate(gaps) for n2, d2 in gaps[i + 1:]
                  if abs(n2 - n1) >= DIFFERENT * max(n1, n2))


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The lower and upper quartiles (medians of the lower and upper halves) of ascending `values`."""
    half = len(values) // 2
    return _median(values[:max(1, half)]), _median(values[len(values) - max(1, half):])


def _median(values: list[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


@dataclass(frozen=True)
class TrialTimeline:
    """When a trial's run started (Active), when each of its pieces was recorded (with its tasks),
    and when the trial was seen to be over: epoch seconds."""

    started: float
    pieces: list[tuple[float, int]]
    ended: float


def predict_rest(trial: TrialTimeline, remaining: list[int]) -> Prediction | None:
    """The rest's seconds for segments of `remaining` tasks, from the trial's timeline; None where
    the piece cost cannot be fitted. Also how tight that is: the rest at the lower and upper
    quartiles of the pieces' pairwise slopes (each with its own fixed part, uncapped, the range
    widened to include the estimate), and the seconds the pieces covered (under TIGHT_SECONDS the
    estimate is rough, whatever the slopes say)."""
    cost = fit_piece_cost(trial.pieces)
    if cost is None:
        return None
    longest = max(n for _, n in trial.pieces)
    low, high, start, end = _run_on(trial, cost, remaining, longest)
    slopes = pair_slopes(piece_gaps(trial.pieces))
    spread = []
    for q in _quartiles(slopes):  # a slope under none (noise) counts as none: the fixed parts alone
        other = fit_piece_cost(trial.pieces, max(q, 0.0))
        spread.append(_run_on(trial, other, remaining, longest)[0] if other else None)
    if spread[0] is not None and spread[1] is not None:  # widened to the estimate where the cap set it apart
        spread = [min(spread[0], low), max(spread[1], low)]
    covered = max(at for at, _ in trial.pieces) - min(at for at, _ in trial.pieces)
    return Prediction(low, high, cost, start, end, (spread[0], spread[1]), covered)


def _run_on(trial: TrialTimeline, cost: PieceCost, remaining: list[int], longest: int
            ) -> tuple[float, float, float, float]:
    """(low, high, the run's start, its end) of the rest with `cost`."""
    first_at, first_n = min(trial.pieces)
    last_at = max(at for at, _ in trial.pieces)
    start = max(0.0, first_at - trial.started - cost.seconds(first_n))  # before the first piece ran
    end = max(0.0, trial.ended - last_at)  # after the last piece was recorded, until the run was over
    bounds = [segment_bounds(cost, n, longest) for n in remaining]
    return (start + sum(lo for lo, _ in bounds) + end, start + sum(hi for _, hi in bounds) + end,
            start, end)


#: Under this many seconds between the trial's first and last pieces, the estimate is called rough:
#: on a quiet machine a trial of 1,000 tagging tasks covers 0.3-0.5 s, pieces of 15-40 ms, and a
#: hiccup of a few ms in one of them moves the slope by a third (benchmarks/results/estimate-runs.md).
TIGHT_SECONDS = 1.0


def tight_trial(run: int, covered: float) -> int:
    """About how many trial tasks cover TIGHT_SECONDS at the pace of a trial of `run` tasks whose
    pieces covered `covered` seconds, with a quarter to spare, rounded up to a hundred: what the
    basis of a rough estimate suggests."""
    wanted = run * TIGHT_SECONDS / max(covered, 1e-3) * 1.25
    return max(run + 100, math.ceil(wanted / 100) * 100)


@dataclass(frozen=True)
class Prediction:
    """The rest's predicted seconds (`low`: the fitted line), the high bound (the longest piece's
    rate), the piece cost they came from, the pipeline's start and end as the trial's were, the
    rest at the lower and upper quartiles of the pieces' pairwise slopes (a negative one taken as
    none), and the seconds between the trial's first and last pieces."""

    low: float
    high: float
    cost: PieceCost
    start: float
    end: float
    spread: tuple[float | None, float | None] = (None, None)
    covered: float = 0.0

    @property
    def seconds(self) -> float:
        return self.low

    @property
    def rough(self) -> bool:
        """The pieces covered too little time for the slope to be tight (TIGHT_SECONDS)."""
        return self.covered < TIGHT_SECONDS


def segment_bounds(cost: PieceCost, tasks: int, longest: int) -> tuple[float, float]:
    """A segment's (low, high) seconds: up to the trial's longest piece, both as fitted; a longer
    one between the fitted line run on to its size and the longest piece's cost per task (its fixed
    part included). Measured (benchmarks/results/estimate-runs.md): on a loaded machine the line
    under-stated 1,000-task segments by about 25% and the piece's rate was theirs; on a quiet one
    the piece's rate over-stated them by 20-70% (measured at 64 in flight: a piece of 134 tasks
    kept 64 operations in flight for three short waves, a segment of 1,000 for sixteen) and the
    line was close."""
    if tasks <= longest:
        return cost.seconds(tasks), cost.seconds(tasks)
    return cost.seconds(tasks), tasks * cost.seconds(longest) / longest

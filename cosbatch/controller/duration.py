"""How long the rest of a job will take, from its trial's timeline (the estimate's `Seconds`).

A segment costs a fixed part (reading its piece of the manifest, recording it, filling and
draining its concurrency) plus a part per task. A trial's pieces are smaller than the job's
segments (66 and 134 tasks where the job's are 1,000), so the trial's tasks-per-second alone
under-states the rate of the rest (measured: about 2,000 tasks/s against 2,800, +35 to +51%).
The trial runs pieces of two sizes (cosbatch.controller.trial.PIECE_WEIGHTS); the gaps between
the times at which they were recorded are their durations, and pieces of different sizes give
both parts (`fit_piece_cost`). The rest is then predicted from the sizes of the segments it will
run: start + the sum of each segment's seconds + end, with the pipeline's start and end as the
trial's were; a segment longer than the trial's longest piece is taken at that piece's cost per
task, not run on along the fitted line (`segment_seconds`).

The gaps are a piece's duration where a run takes its segments one at a time (the DirectRunner in
memory, the default and what the benchmark measures). Where several workers take segments side by
side, the gaps interleave them; the fit is then not measured (see docs/trust.md).
"""

from __future__ import annotations

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


def fit_piece_cost(pieces: list[tuple[float, int]]) -> PieceCost | None:
    """The cost of a piece from (time recorded, tasks) of a run's pieces (any order), or None where
    it cannot be told: fewer than three pieces, or no two of clearly different sizes.

    Each piece after the first took the gap since the one recorded before it (its own duration
    where pieces run one after another). Both parts are medians, so a piece slowed by a burst of
    other work on the machine moves neither: the per-task part is the median of the slopes between
    pieces of different sizes (Theil-Sen), the fixed part the median of what each piece took beyond
    its tasks. A negative fixed part (noise) is taken as none; a per-task part that is not positive
    gives None."""
    done = sorted(pieces)
    gaps = [(n, at - before) for (before, _), (at, n) in zip(done, done[1:], strict=False)]
    slopes = sorted((d2 - d1) / (n2 - n1) for i, (n1, d1) in enumerate(gaps) for n2, d2 in gaps[i + 1:]
                    if abs(n2 - n1) >= DIFFERENT * max(n1, n2))
    if not slopes:
        return None
    per_task = _median(slopes)
    if per_task <= 0:
        return None
    fixed = _median([d - n * per_task for n, d in gaps])
    if fixed < 0:
        fixed, per_task = 0.0, _median([d / n for n, d in gaps])
    return PieceCost(fixed, per_task)


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


def predict_rest(trial: TrialTimeline, remaining: list[int]) -> tuple[float, PieceCost, float, float] | None:
    """(seconds, the piece cost, the pipeline's start, its end) for segments of `remaining` tasks,
    from the trial's timeline; None where the piece cost cannot be fitted."""
    cost = fit_piece_cost(trial.pieces)
    if cost is None:
        return None
    first_at, first_n = min(trial.pieces)
    last_at = max(at for at, _ in trial.pieces)
    start = max(0.0, first_at - trial.started - cost.seconds(first_n))  # before the first piece ran
    end = max(0.0, trial.ended - last_at)  # after the last piece was recorded, until the run was over
    longest = max(n for _, n in trial.pieces)
    return start + sum(segment_seconds(cost, n, longest) for n in remaining) + end, cost, start, end


def segment_seconds(cost: PieceCost, tasks: int, longest: int) -> float:
    """A segment's seconds: as fitted up to the trial's longest piece; a longer one at that piece's
    cost per task (its fixed part included). Measured (benchmarks/results/estimate-runs.md): the
    line through pieces of 66 and 134 tasks, run on to 1,000, under-stated the job's segments by
    about 25%; the rate of the pieces of 134 was the segments' own. So what the trial did not see,
    a segment's rate still growing past its longest piece, is not assumed."""
    if tasks <= longest:
        return cost.seconds(tasks)
    return tasks * cost.seconds(longest) / longest

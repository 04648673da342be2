"""Trial runs (the job tag `cosbatch:trial-tasks=N`, `create-job --trial-tasks N`).

After Preparing, a trial job runs N of its tasks, spread evenly over the manifest (runs of tasks
at evenly spaced places, `trial_ranges`; the same manifest always gives the same trial), then
stops in Suspended with the trial's outcome as its StatusUpdateReason. The rest of each
segment is HELD; confirming the job makes it PENDING, so it runs, and nothing of the trial
runs again (segment bookkeeping: a recorded segment never runs twice).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cosbatch.controller.cosbatch_tags import TRIAL_TASKS, option_value
from cosbatch.errors import InvalidRequest
from cosbatch.manifests import CsvLayout, SegmentSource
from cosbatch.manifests.csv_manifest import iter_lines, parse_csv_line
from cosbatch.manifests.source import open_segment_source
from cosbatch.models import Job, ManifestField
from cosbatch.reports.summary import failures_text
from cosbatch.store.base import Segment, SegmentState

#: Error codes named in a trial's StatusUpdateReason (the rest are counted as "+k more").
REASON_CODES = 5
#: A trial samples up to this many places of the manifest (one per segment if it has more), so
#: a job of few segments is not tried on its first lines only...
MIN_CELLS = 100
#: ...in pieces of at least this many tasks (enough in flight that the trial's rate is near the
#: rate the rest will run at: pieces of 64 and 128 are half and all of the default concurrency, and
#: with it raised from 64 to 128 the estimates stayed within 10%,
#: benchmarks/results/estimate-concurrency128.md),
#: but always at MIN_PLACES places at least.
PIECE_TASKS = 64
MIN_PLACES = 10
#: Where the pieces allow it, every other place gives twice as many tasks as its neighbours: pieces
#: of two sizes let the estimate tell a segment's fixed cost from its cost per task
#: (cosbatch.controller.duration), which one size cannot.
PIECE_WEIGHTS = (1, 2)
#: The smallest trial whose pieces come in two sizes (MIN_PLACES pieces, alternately of PIECE_TASKS
#: and twice as many: 960 tasks); a smaller trial's pieces are of one size.
TWO_SIZES_FROM = MIN_PLACES * PIECE_TASKS * sum(PIECE_WEIGHTS) // len(PIECE_WEIGHTS)
SUSPENDED_CAUSE = "Trial run finished: update its status to Ready to run the remaining tasks, or cancel it"


def trial_tasks(job: Job) -> int | None:
    """N of the job's cosbatch:trial-tasks tag, or None for a job without a trial."""
    return option_value(job.tags, TRIAL_TASKS)


def spread(counts: list[int], n: int) -> list[int]:
    """How many of `n` trial tasks each segment gives: as even as the segments allow (every segment
    gives `level` tasks, or all it has if fewer), the remainder one each to segments evenly spaced
    over the manifest."""
    n = min(n, sum(counts))
    level = 0
    while level < max(counts, default=0) and sum(min(c, level + 1) for c in counts) <= n:
        level += 1
    take = [min(c, level) for c in counts]
    left = n - sum(take)
    if left:
        room = [i for i, c in enumerate(counts) if c > level]  # left < len(room), by the choice of level
        for k in range(left):
            take[room[(k * len(room)) // left]] += 1
    return take


def trial_ranges(total: int, n: int, segments: int) -> list[tuple[int, int]]:
    """The trial's tasks as [start, end) ranges of manifest positions (0-based, in order).

    The manifest is cut into `cells` equal runs: one per segment (or MIN_CELLS, so a manifest of
    few segments is still sampled throughout), fewer when that would make pieces smaller than
    PIECE_TASKS, but never fewer than MIN_PLACES (or the trial's tasks); each cell gives its first
    tasks. Where every piece can still have PIECE_TASKS, cells alternate between pieces of one and
    two shares (PIECE_WEIGHTS); else the pieces are as even as `spread` makes them."""
    # Pieces of at least PIECE_TASKS once the trial is big enough: a piece of 10 tasks keeps 10
    # operations in flight where a segment keeps 128, and its rate would not be the job's.
    mean = PIECE_TASKS * sum(PIECE_WEIGHTS) // (len(PIECE_WEIGHTS) * min(PIECE_WEIGHTS))  # 96: pieces of 64 and 128
    cells = max(min(n, MIN_PLACES), min(n // mean, max(segments, MIN_CELLS)))
    cells = min(cells, n, total)
    bounds = [(g * total) // cells for g in range(cells + 1)]
    sizes = [bounds[g + 1] - bounds[g] for g in range(cells)]
    take = _two_sizes(sizes, n) or spread(sizes, n)
    return [(bounds[g], bounds[g] + t) for g, t in enumerate(take) if t]


def _two_sizes(cells: list[int], n: int) -> list[int] | None:
    """`n` tasks from `cells` in shares alternating PIECE_WEIGHTS (the last share of each pair
    rounded so they sum to n), or None where a piece would be under PIECE_TASKS or over its cell."""
    weights = [PIECE_WEIGHTS[g % len(PIECE_WEIGHTS)] for g in range(len(cells))]
    if len(cells) < 2:
        return None
    total_w, acc, take = sum(weights), 0, []
    for w in weights:
        take.append((n * (acc + w)) // total_w - (n * acc) // total_w)
        acc += w
    if min(take) < PIECE_TASKS or any(t > c for t, c in zip(take, cells, strict=True)):
        return None
    return take


def _csv_offsets(seg: Segment, source: SegmentSource, cuts: list[int], client: Any) -> list[tuple[int, int]]:
    """(byte offset, line number) where each of the segment's tasks `cuts` (0-based, ascending)
    starts, blank lines skipped."""
    layout = CsvLayout(tuple(ManifestField(f) for f in source.fields) if source.fields else None)
    reader = open_segment_source(source, client)
    line_no, seen, out = seg.first_line - 1, 0, []
    wanted = iter(cuts)
    cut = next(wanted, None)
    for start, _end, raw in iter_lines(reader.chunks(seg.start, seg.end), seg.start):
        line_no += 1
        if cut is None:
            break
        if parse_csv_line(raw, layout, line_no) is None:
            continue
        while cut is not None and seen == cut:
            out.append((start, line_no))
            cut = next(wanted, None)
        seen += 1
    if cut is not None:
        raise InvalidRequest(f"manifest segment {seg.seg_no} has fewer than {cut} tasks")
    return out


def _cut(seg: Segment, pieces: list[tuple[int, int, bool]], client: Any) -> list[Segment]:
    """The segment cut into `pieces` ((first task, end task, in the trial), 0-based in the segment)."""
    source = SegmentSource.from_json(seg.source)
    cuts = [first for first, _, _ in pieces[1:]]
    if source.format.startswith("inventory-"):  # start/end are row numbers
        at = [(seg.start + c, seg.first_line + c) for c in cuts]
    else:
        at = _csv_offsets(seg, source, cuts, client)
    starts = [(seg.start, seg.first_line), *at]
    ends = [offset for offset, _ in at] + [seg.end]
    return [replace(seg, start=start, end=end, first_line=line, task_count=last - first,
                    state=SegmentState.PENDING if trial else SegmentState.HELD)
            for (first, last, trial), (start, line), end in zip(pieces, starts, ends, strict=True)]


def plan_trial(segments: list[Segment], total: int, n: int, client: Any) -> list[Segment]:
    """The job's segments for a trial of `n` tasks: the trial's PENDING, the rest HELD, renumbered
    in manifest order. InvalidRequest unless n is below the job's task count."""
    if n >= total:
        raise InvalidRequest(f"{TRIAL_TASKS}={n} is not below the job's {total} tasks: a trial must leave "
                             "tasks to confirm (run the job without a trial)")
    ranges = trial_ranges(total, n, len(segments))
    out: list[Segment] = []
    first = 0  # manifest position of the segment's first task
    for seg in segments:
        last = first + seg.task_count
        pieces: list[tuple[int, int, bool]] = []
        pos = first
        for a, b in ranges:
            a, b = max(a, first), min(b, last)
            if a >= b:
                continue
            if a > pos:
                pieces.append((pos - first, a - first, False))
            pieces.append((a - first, b - first, True))
            pos = b
        if pos < last:
            pieces.append((pos - first, last - first, False))
        out.extend(_cut(seg, pieces, client) if len(pieces) > 1 else
                   [replace(seg, state=SegmentState.PENDING if pieces[0][2] else SegmentState.HELD)])
        first = last
    return [replace(s, seg_no=i) for i, s in enumerate(out)]


def trial_reason(succeeded: int, failed: int, by_code: dict[str, int], remaining: int) -> str:
    """`Trial: N tasks run, s succeeded, f failed (by error code: ...); confirm to run the remaining M`."""
    codes = dict(list(by_code.items())[:REASON_CODES])
    text = failures_text(codes)
    if len(by_code) > REASON_CODES:
        text += f", +{len(by_code) - REASON_CODES} more"
    return (f"Trial: {succeeded + failed} tasks run, {succeeded} succeeded, {failed} failed "
            f"(by error code: {text}); confirm to run the remaining {remaining}")

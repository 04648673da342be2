"""How a trial's N tasks are spread over a manifest's segments, and its StatusUpdateReason."""

from __future__ import annotations

import pytest

from cosbatch.controller.estimate import _one_size
from cosbatch.controller.trial import TWO_SIZES_FROM, plan_trial, spread, trial_ranges, trial_reason
from cosbatch.errors import InvalidRequest
from cosbatch.manifests import SegmentSource
from cosbatch.store import Segment, SegmentState


@pytest.mark.parametrize(("counts", "n", "expected"), [
    ([10] * 5, 7, [2, 1, 2, 1, 1]),  # one each; the two extra spread out, not to the first two
    ([10] * 5, 2, [1, 0, 1, 0, 0]),  # fewer tasks than segments: evenly spaced segments
    ([10] * 4, 40, [10] * 4),
    ([1, 10, 1], 9, [1, 7, 1]),  # a small segment gives what it has; the rest goes elsewhere
    ([3, 3], 5, [3, 2]),
])
def test_spread(counts, n, expected):
    assert spread(counts, n) == expected
    assert spread(counts, n) == expected  # deterministic


def test_spread_sums_to_n_and_stays_within_segments():
    counts = [7, 1, 30, 12, 5, 9, 40]
    for n in range(1, sum(counts) + 1):
        take = spread(counts, n)
        assert sum(take) == n and all(0 <= t <= c for t, c in zip(take, counts, strict=True))
        # as even as the segments allow: a segment gives less than another only when it is exhausted
        assert all(t >= min(c, max(take) - 1) for t, c in zip(take, counts, strict=True))


@pytest.mark.parametrize(("total", "n", "segments", "expected"), [
    (50, 7, 5, [(0, 1), (7, 8), (14, 15), (21, 22), (28, 29), (35, 36), (42, 43)]),
    (1000, 4, 1, [(0, 1), (250, 251), (500, 501), (750, 751)]),  # one segment: still spread over it
    (100_000, 1000, 1, [(g * 10_000, g * 10_000 + (134 if g % 2 else 66)) for g in range(10)]),  # 66s and 134s
    (4000, 8, 4, [(g * 500, g * 500 + 1) for g in range(8)]),
    (10, 9, 1, [(g, g + 1) for g in range(9)]),
])
def test_trial_ranges_spread_over_the_manifest(total, n, segments, expected):
    ranges = trial_ranges(total, n, segments)
    assert ranges == expected
    assert sum(b - a for a, b in ranges) == n


def test_large_trial_takes_pieces_of_two_sizes_from_many_segments():
    ranges = trial_ranges(1_000_000, 64_000, 1000)  # 1,000 segments of 1,000: 666 places, pieces of 64 and 128
    assert len(ranges) == 666 and ranges[:2] == [(0, 64), (1501, 1629)]
    assert {b - a for a, b in ranges} == {64, 65, 128, 129} and sum(b - a for a, b in ranges) == 64_000


def test_trial_pieces_keep_a_segments_concurrency_in_two_sizes():
    # 1,000 tasks: 10 pieces alternating 66 and 134 (not 100 of 10, nor 15 of one size: two sizes
    # let the estimate tell a segment's fixed cost from its tasks', cosbatch.controller.duration)
    ranges = trial_ranges(20_000, 1000, 20)
    assert [b - a for a, b in ranges] == [66, 134] * 5 and [a for a, _ in ranges] == list(range(0, 20_000, 2000))
    assert {b - a for a, b in trial_ranges(20_000, 900, 20)} == {90}  # pieces of 60 and 120 would be under 64: one size
    assert len(trial_ranges(20_000, 20, 20)) == 10  # small trials: still 10 places


def test_inventory_segments_split_by_row_numbers():
    src = SegmentSource(url="s3://b/data.csv.gz", format="inventory-csv").to_json()
    segs = [Segment("j", i, src, 100 * i, 100 * i + 100, 100 * i + 1, 100) for i in range(2)]
    out = plan_trial(segs, 200, 3, client=None)  # tasks 0, 66, 133
    P, H = SegmentState.PENDING, SegmentState.HELD
    assert [(s.seg_no, s.start, s.end, s.first_line, s.task_count, s.state) for s in out] == [
        (0, 0, 1, 1, 1, P), (1, 1, 66, 2, 65, H), (2, 66, 67, 67, 1, P), (3, 67, 100, 68, 33, H),
        (4, 100, 133, 101, 33, H), (5, 133, 134, 134, 1, P), (6, 134, 200, 135, 66, H),
    ]


def test_trial_must_leave_tasks():
    seg = Segment("j", 0, SegmentSource(url="s3://b/k", format="inventory-csv").to_json(), 0, 5, 1, 5)
    with pytest.raises(InvalidRequest, match="cosbatch:trial-tasks=5 is not below the job's 5 tasks"):
        plan_trial([seg], 5, 5, client=None)


def test_reason_names_at_most_five_codes():
    codes = {f"E{i}": 10 - i for i in range(7)}
    reason = trial_reason(3, sum(codes.values()), codes, 100)
    assert reason == ("Trial: 52 tasks run, 3 succeeded, 49 failed (by error code: E0: 10, E1: 9, E2: 8, E3: 7, "
                      "E4: 6, +2 more); confirm to run the remaining 100")


def test_csv_segments_cut_at_task_lines_blank_lines_skipped(tmp_path):
    from cosbatch.manifests import CsvLayout, scan_csv
    from cosbatch.manifests.csv_manifest import read_csv_segment
    from cosbatch.manifests.source import open_segment_source

    lines = [f"b1,k{i}" if i % 4 else "" for i in range(1, 41)]  # every 4th line blank: 30 tasks
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    source = SegmentSource(url=f"file://{path}")
    total, scanned = scan_csv(open_segment_source(source, None).chunks(), CsvLayout(), 10)
    segs = [Segment("j", i, source.to_json(), s.start, s.end, s.first_line, s.task_count) for i, s in enumerate(scanned)]
    out = plan_trial(segs, total, 5, client=None)
    tasks = {s.seg_no: [t.key for t in read_csv_segment(open_segment_source(source, None).chunks(s.start, s.end),
                                                         CsvLayout(), s.first_line)] for s in out}
    assert [k for s in out for k in tasks[s.seg_no]] == [ln.split(",")[1] for ln in lines if ln]  # nothing lost
    # tasks 0, 6, 12, 18, 24 of 30 (k4, k8, ... are blank lines)
    assert [tasks[s.seg_no] for s in out if s.state is SegmentState.PENDING] == [["k1"], ["k9"], ["k17"], ["k25"],
                                                                               ["k33"]]
    assert all(s.task_count == len(tasks[s.seg_no]) for s in out)


@pytest.mark.parametrize("total", [2_000, 20_000, 1_000_000])
def test_pieces_come_in_two_sizes_from_two_sizes_from(total):
    """TWO_SIZES_FROM (960) is the smallest trial whose pieces have two sizes: what a one-size trial's
    rough estimate tells the user to ask for."""
    sizes = lambda n: {end - start for start, end in trial_ranges(total, n, -(-total // 1000))}  # noqa: E731
    assert TWO_SIZES_FROM == 960
    assert sizes(TWO_SIZES_FROM) == {64, 128}
    assert len(sizes(TWO_SIZES_FROM - 1)) == 2 and max(sizes(TWO_SIZES_FROM - 1)) < 2 * min(sizes(TWO_SIZES_FROM - 1))
    assert len(sizes(100)) == 1


def test_a_one_size_trial_is_called_rough_and_says_what_would_not_be():
    assert _one_size(10, 90) == ("; rough: a trial of 10 tasks runs pieces of one size, which cannot tell the run's "
                                 "start from its tasks (this job is too small for a trial of pieces of two sizes)")
    assert _one_size(10, 5_000).endswith("(a trial of 960 tasks or more runs pieces of two sizes)")

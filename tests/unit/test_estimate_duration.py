"""The duration model of the estimate after a trial: a segment's fixed cost apart from its tasks'."""

from __future__ import annotations

import random
import statistics

import pytest

from cosbatch.controller.duration import (
    TIGHT_SECONDS,
    PieceCost,
    TrialTimeline,
    fit_piece_cost,
    pair_slopes,
    piece_gaps,
    predict_rest,
    segment_bounds,
    tight_trial,
)

#: What the benchmark's tagging runs look like: 10 ms a segment, 0.35 ms a task (2,857 tasks/s).
TRUE = PieceCost(0.010, 0.00035)


def timeline(sizes: list[int], cost: PieceCost = TRUE, noise: float = 0.0, start: float = 0.3,
             seed: int = 1) -> list[tuple[float, int]]:
    """(time recorded, tasks) of pieces run one after another, the first after `start`."""
    rnd, at, out = random.Random(seed), 100.0 + start, []
    for n in sizes:
        at += cost.seconds(n) + rnd.gauss(0, noise)
        out.append((at, n))
    return out


def test_two_sizes_give_both_parts():
    cost = fit_piece_cost(timeline([66, 134] * 5))
    assert (cost.fixed, cost.per_task) == pytest.approx((TRUE.fixed, TRUE.per_task))


def test_the_order_of_the_records_does_not_matter():
    pieces = timeline([66, 134] * 5)
    assert fit_piece_cost(list(reversed(pieces))) == fit_piece_cost(pieces)


def test_noise_and_a_burst_of_other_work_move_it_little():
    pieces = timeline([66, 134] * 5, noise=0.001)
    pieces[6:] = [(at + 0.25, n) for at, n in pieces[6:]]  # one piece took 250 ms more (another process ran)
    cost = fit_piece_cost(pieces)
    assert cost.per_task == pytest.approx(TRUE.per_task, rel=0.15)
    assert cost.fixed == pytest.approx(TRUE.fixed, abs=0.005)


@pytest.mark.parametrize("sizes", [[66] * 10, [66, 67] * 5, [66, 134]])
def test_it_cannot_be_told_from_one_size_or_two_pieces(sizes):
    assert fit_piece_cost(timeline(sizes)) is None


def test_a_negative_fixed_part_is_taken_as_none_at_the_pieces_own_rate():
    """A line of -5 ms + 0.4 ms a task: no task can cost more than the pieces' own median seconds a
    task once the fixed part is none (the old fit kept 0.4 ms, over every piece's own rate)."""
    sizes = [66, 134] * 5
    cost = fit_piece_cost(timeline(sizes, PieceCost(-0.005, 0.0004)))
    rates = sorted(0.0004 - 0.005 / n for n in sizes[1:])  # each piece's seconds a task
    assert cost.fixed == 0.0 and cost.per_task == pytest.approx(rates[len(rates) // 2])
    assert cost.per_task < 0.0004


def test_a_slope_steeper_than_the_pieces_own_rate_is_capped():
    """The benchmark's miss under load (01:08 UTC, round 2): the pieces of 134 took 140 ms (a burst of
    other work), those of 66 about 40; Theil-Sen said 0 ms + 1.34 ms a task, over the 0.7 ms a task
    the pieces themselves ran at, and predicted +247%. The cap takes the pieces' median rate."""
    sizes = [66, 134] * 5
    pieces = timeline(sizes)
    at, burst = pieces[0][0], []
    for n in sizes[1:]:
        at += 0.040 if n == 66 else 0.140
        burst.append((at, n))
    cost = fit_piece_cost([pieces[0], *burst])
    assert cost.fixed == 0.0
    assert cost.per_task == pytest.approx(0.140 / 134)  # the median piece's rate, not (0.14 - 0.04) / 68
    assert (0.140 - 0.040) / 68 > 0.140 / 134
    p = predict_rest(TrialTimeline(100.0, [pieces[0], *burst], burst[-1][0]), [1000] * 19)
    assert p.seconds == pytest.approx(p.start + 19 * 1000 * 0.140 / 134)
    # the spread keeps what the slopes said: up to (0.14 - 0.04) / 68 a task, not the capped rate
    assert p.spread[0] == pytest.approx(p.seconds) and p.spread[1] > 1.3 * p.seconds


def test_a_slope_under_the_pieces_own_rate_is_left_alone():
    pieces = timeline([66, 134] * 5, noise=0.0005)
    slopes = pair_slopes(piece_gaps(pieces))
    cost = fit_piece_cost(pieces)
    assert cost.per_task == pytest.approx(statistics.median(slopes)) and cost.fixed > 0
    assert cost.per_task == pytest.approx(TRUE.per_task, rel=0.2)


def test_the_spread_of_the_slopes_brackets_the_line_and_names_a_short_trial_rough():
    """Noise on every piece: the rest at the slopes' quartiles brackets the line's seconds, wider
    the noisier the pieces; pieces 0.3 s apart are rough (under TIGHT_SECONDS), 1.5 s apart not."""
    remaining = [1000] * 19

    def predicted(noise: float, sizes: list[int]):
        pieces = timeline(sizes, noise=noise, seed=7)
        return predict_rest(TrialTimeline(100.0, pieces, pieces[-1][0] + 0.05), remaining)

    calm, noisy = predicted(0.0005, [66, 134] * 5), predicted(0.004, [66, 134] * 5)
    for p in (calm, noisy):
        assert p.spread[0] <= p.seconds <= p.spread[1]
    assert noisy.spread[1] - noisy.spread[0] > 2 * (calm.spread[1] - calm.spread[0])
    assert calm.rough and calm.covered == pytest.approx(9 * 0.010 + 934 * TRUE.per_task, abs=0.01)
    long = predicted(0.0005, [66, 134] * 25)
    assert long.covered > TIGHT_SECONDS and not long.rough
    exact = predicted(0.0, [66, 134] * 5)
    assert exact.spread == pytest.approx((exact.seconds, exact.seconds))


def test_a_rough_trial_names_the_trial_size_that_would_cover_a_second():
    """A trial of 1,000 whose pieces covered 0.5 s: about 2,500 tasks (a quarter to spare, rounded up
    to a hundred) cover TIGHT_SECONDS at its pace; never fewer than a hundred more than it ran."""
    assert tight_trial(1000, 0.5) == 2500
    assert tight_trial(1000, 0.57) == 2200
    assert tight_trial(3000, 0.99) == 3800
    assert tight_trial(100, 5.0) == 200


def test_a_per_task_part_that_is_not_positive_gives_none():
    assert fit_piece_cost(timeline([66, 134] * 5, PieceCost(0.05, -0.0001))) is None


def test_the_rest_is_predicted_from_its_own_segment_sizes():
    """The benchmark's case: a trial of 1,000 as 10 pieces of 66 and 134 over 20 segments of 1,000;
    the rest is 10 segments of 1,000 and 10 of the 934 and 866 the pieces leave: the fitted line run
    on to each segment's size. The longest piece's cost per task (fixed part included) is the high
    bound, under the trial's own tasks/s, which has its pieces of 66 in it."""
    pieces = timeline([66, 134] * 5, start=0.3)
    trial = TrialTimeline(100.0, pieces, pieces[-1][0] + 0.1)
    remaining = [1000] * 10 + [934, 866] * 5
    p = predict_rest(trial, remaining)
    assert (p.cost.fixed, p.cost.per_task) == pytest.approx((TRUE.fixed, TRUE.per_task))
    assert (p.start, p.end) == pytest.approx((0.3, 0.1))
    line = 0.3 + sum(TRUE.seconds(n) for n in remaining) + 0.1
    piece_rate = 0.3 + 19_000 * TRUE.seconds(134) / 134 + 0.1
    rate_only = 0.3 + 19_000 * (pieces[-1][0] - pieces[0][0]) / sum(n for _, n in pieces[1:])
    assert p.seconds == p.low == pytest.approx(line) and p.high == pytest.approx(piece_rate)
    assert (round(line, 2), round(piece_rate, 1), round(rate_only, 1)) == (7.25, 8.5, 8.8)


def test_a_slow_warm_up_piece_moves_neither_part():
    """The second piece still fills the connection pool (measured 40-62 ms for 134 tasks where later
    ones took 26-43): both parts are medians, so the fit is the one without it."""
    pieces = timeline([66, 134] * 5)
    slow = [pieces[0], *((at + 0.05, n) for at, n in pieces[1:])]  # the second piece took 50 ms more
    fitted = fit_piece_cost(slow)
    assert (fitted.fixed, fitted.per_task) == pytest.approx((TRUE.fixed, TRUE.per_task))


def test_segments_up_to_the_longest_piece_follow_the_fit():
    assert segment_bounds(TRUE, 100, 134) == pytest.approx((TRUE.seconds(100),) * 2)
    assert segment_bounds(TRUE, 134, 134) == pytest.approx((TRUE.seconds(134),) * 2)
    assert segment_bounds(TRUE, 268, 134) == pytest.approx((TRUE.seconds(268), 2 * TRUE.seconds(134)))


def test_no_prediction_without_two_sizes():
    pieces = timeline([100] * 10)
    assert predict_rest(TrialTimeline(100.0, pieces, pieces[-1][0]), [1000] * 19) is None


def test_a_lower_quartile_slope_under_none_gives_the_fixed_parts_alone():
    """Noisy pieces whose slopes' lower quartile is negative: that end of the spread is the rest at no
    cost a task (each segment its fixed part), not left out of the basis."""
    pieces = timeline([66, 134] * 5)
    # two of the four later pieces of 66 took 30 ms more: their slopes to every piece of 134 are negative
    noisy = [(at + 0.030 * sum(1 for j in (2, 6) if j <= i), n) for i, (at, n) in enumerate(pieces)]
    assert pair_slopes(piece_gaps(noisy))[0] < 0
    p = predict_rest(TrialTimeline(100.0, noisy, noisy[-1][0]), [1000] * 19)
    low, high = p.spread
    assert low is not None and high is not None and low <= p.seconds <= high
    floor = fit_piece_cost(noisy, 0.0)
    start = noisy[0][0] - 100.0 - floor.fixed  # the run's start with that cost (its end is none here)
    assert floor.per_task == 0.0 and low == pytest.approx(start + 19 * floor.fixed)


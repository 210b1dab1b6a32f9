"""downsample: first and last kept, bucket extremes and ends kept, never more than max_points."""

from __future__ import annotations

import math

import pytest

from seedlab.analysis.downsample import downsample


def _curve(n: int) -> list[tuple[int, float]]:
    return [(step, math.sin(step / 7.0) + step / 1000.0) for step in range(n)]


def test_short_curve_is_returned_as_is() -> None:
    points = _curve(10)
    out = downsample(points, 10)
    assert out == points and out is not points
    assert downsample([], 10) == []


def test_hand_computed_buckets() -> None:
    values = [0.0, 5.0, 1.0, 9.0, 2.0, 3.0, 4.0, -1.0, 8.0, 6.0, 7.0, 0.5]
    points = list(enumerate(values))
    # max_points 8: first + last + (8 - 2) // 3 = 2 buckets of the 10 inner points, steps 1-5
    # and 6-10. Bucket 1 keeps min step 2 (1.0), max step 3 (9.0), last step 5 (3.0); bucket 2
    # keeps min step 7 (-1.0), max step 8 (8.0), last step 10 (7.0).
    assert downsample(points, 8) == [
        (0, 0.0),
        (2, 1.0),
        (3, 9.0),
        (5, 3.0),
        (7, -1.0),
        (8, 8.0),
        (10, 7.0),
        (11, 0.5),
    ]


def test_long_curve_keeps_ends_and_extremes_within_budget() -> None:
    points = _curve(10_000)
    points[4321] = (4321, 50.0)  # a spike
    points[777] = (777, -50.0)  # a dip
    out = downsample(points, 500)
    assert len(out) <= 500
    assert len(out) > 400  # it uses the budget, it does not collapse the curve
    assert out[0] == points[0] and out[-1] == points[-1]
    assert (4321, 50.0) in out and (777, -50.0) in out
    steps = [step for step, _ in out]
    assert steps == sorted(set(steps))  # step order, no duplicates
    assert set(out) <= set(points)


@pytest.mark.parametrize("max_points", [2, 3, 4, 5, 6, 7, 10, 11, 99])
def test_budget_is_respected_for_any_size(max_points: int) -> None:
    for n in (max_points + 1, max_points + 2, 3 * max_points + 1, 1000):
        points = _curve(n)
        out = downsample(points, max_points)
        assert len(out) <= max_points
        assert out[0] == points[0] and out[-1] == points[-1]
        steps = [step for step, _ in out]
        assert steps == sorted(set(steps))


def test_tiny_budgets_keep_the_extremes() -> None:
    points = [(0, 0.0), (1, 2.0), (2, -5.0), (3, 1.0), (4, 0.0)]
    assert downsample(points, 4) == [(0, 0.0), (1, 2.0), (2, -5.0), (4, 0.0)]
    assert downsample(points, 3) == [(0, 0.0), (2, -5.0), (4, 0.0)]
    assert downsample(points, 2) == [(0, 0.0), (4, 0.0)]


def test_nan_is_kept_so_the_gap_shows() -> None:
    points = [(step, 1.0) for step in range(100)]
    points[50] = (50, math.nan)
    out = downsample(points, 20)
    assert any(step == 50 and math.isnan(value) for step, value in out)


def test_max_points_below_two_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        downsample(_curve(10), 1)

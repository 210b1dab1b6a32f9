"""Downsampling long curves on read: min, max and last point per bucket."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Point = tuple[int, float]
Values = np.ndarray[Any, np.dtype[np.float64]]
Indices = np.ndarray[Any, np.dtype[np.intp]]


def _low(value: float) -> float:
    # NaN sorts as the lowest and highest value, so a divergence stays visible as a gap.
    return -math.inf if math.isnan(value) else value


def _high(value: float) -> float:
    return math.inf if math.isnan(value) else value


def downsample(points: Sequence[Point], max_points: int) -> list[Point]:
    """Reduce a step-ordered curve to at most max_points points, keeping its shape.

    Rule: a curve of at most max_points points is returned unchanged. Otherwise the first and
    the last point are always kept, and the points between them are split into
    (max_points - 2) // 3 buckets of (nearly) equal size; each bucket keeps its minimum, its
    maximum and its last point, in step order and without duplicates, so spikes survive.
    NaN counts as both a minimum and a maximum. With room for only one or two inner points,
    the inner points form one bucket that keeps its maximum and minimum (with one, whichever is
    farther from the mean of the two end points). The result never exceeds max_points points.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2 (first and last point), not {max_points}")
    if len(points) <= max_points:
        return list(points)
    values = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points))
    return [points[i] for i in downsample_indices(values, max_points).tolist()]


def downsample_indices(values: Values, max_points: int) -> Indices:
    """Indices of the points downsample() keeps, for a curve given as its array of values."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2 (first and last point), not {max_points}")
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    budget = max_points - 2
    inner = values[1:-1]
    if budget == 0:
        kept = np.array([], dtype=np.intp)
    elif budget < 3:
        kept = np.array(_extremes(inner, budget, float(values[0]), float(values[-1])))
    else:
        kept = _bucket_picks(inner, budget // 3)
    return np.concatenate(([0], kept + 1, [n - 1])).astype(np.intp)


def _bucket_picks(inner: Values, buckets: int) -> Indices:
    # Vectorised (a 100-run overlay downsamples 100 curves per request): integer bounds spread
    # the remainder over the buckets, so none is empty; ties keep the first point, as min() does.
    starts = np.arange(buckets) * len(inner) // buckets
    lengths = np.diff(np.append(starts, len(inner)))
    low = np.where(np.isnan(inner), -np.inf, inner)
    high = np.where(np.isnan(inner), np.inf, inner)
    picks = [starts + lengths - 1]
    for extreme, reduce in ((low, np.minimum), (high, np.maximum)):
        best = reduce.reduceat(extreme, starts)
        hits = np.flatnonzero(extreme == np.repeat(best, lengths))
        picks.append(hits[np.searchsorted(hits, starts)])
    return np.unique(np.concatenate(picks))


def _extremes(inner: Values, budget: int, first: float, last: float) -> list[int]:
    """Indices of the minimum and maximum of inner (only the more extreme one for a budget of 1)."""
    values = inner.tolist()
    lo = min(range(len(values)), key=lambda i: _low(values[i]))
    hi = max(range(len(values)), key=lambda i: _high(values[i]))
    if budget >= 2:
        return sorted({lo, hi})
    centre = (first + last) / 2
    lo_gap = abs(_low(values[lo]) - centre)
    hi_gap = abs(_high(values[hi]) - centre)
    return [hi if not hi_gap < lo_gap else lo]

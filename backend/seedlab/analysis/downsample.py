"""Downsampling long curves on read: min, max and last point per bucket."""

from __future__ import annotations

from collections.abc import Sequence


def downsample(points: Sequence[tuple[int, float]], max_points: int) -> list[tuple[int, float]]:
    """Reduce a step-ordered curve to about max_points, keeping its shape.

    The first and last points are always kept. The points in between are split into equal
    buckets; each bucket keeps its minimum, its maximum and its last point (in step order, without
    duplicates), so spikes survive and the curve ends where it really ends.
    """
    n = len(points)
    if n <= max_points or max_points < 5:
        return list(points)
    inner = points[1:-1]
    buckets = max(1, (max_points - 2) // 3)
    size = len(inner) / buckets
    kept: list[tuple[int, float]] = [points[0]]
    for b in range(buckets):
        chunk = inner[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        picks = {
            min(range(len(chunk)), key=lambda i: chunk[i][1]),
            max(range(len(chunk)), key=lambda i: chunk[i][1]),
            len(chunk) - 1,
        }
        kept.extend(chunk[i] for i in sorted(picks))
    kept.append(points[-1])
    return kept

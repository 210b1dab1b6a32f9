"""Spread of final metrics across seeds, one run per seed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from seedlab.analysis.types import RunData


@dataclass(frozen=True)
class MetricSpread:
    """n, mean, std (ddof=1), min, max, range and the t-based 95% CI of the mean."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    range: float | None
    ci95: tuple[float, float] | None
    seeds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: a statistic a NaN or infinite value made undefined becomes None."""
        ci = None
        if self.ci95 is not None:
            lo, hi = _finite(self.ci95[0]), _finite(self.ci95[1])
            ci = [lo, hi] if lo is not None and hi is not None else None
        return {
            "n": self.n,
            "mean": _finite(self.mean),
            "std": _finite(self.std),
            "min": _finite(self.min),
            "max": _finite(self.max),
            "range": _finite(self.range),
            "ci95": ci,
            "seeds": list(self.seeds),
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def one_run_per_seed(runs: Sequence[RunData]) -> list[RunData]:
    """The succeeded run with the lowest repeat of each seed, in seed order."""
    chosen: dict[int, RunData] = {}
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id)):
        if run.succeeded and run.seed not in chosen:
            chosen[run.seed] = run
    return list(chosen.values())


def _mean_std(data: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, float]:
    """Mean and std (ddof=1, NaN for one value); identical values give exactly that value and 0."""
    first = float(data[0])
    # Summation round-off would otherwise report a tiny spread for bit-identical values.
    if bool(np.all(data == first)):
        return first, 0.0 if len(data) >= 2 else math.nan
    # Infinite values make the spread NaN, which to_dict reports as None: no warning needed.
    with np.errstate(invalid="ignore"):
        std = float(data.std(ddof=1)) if len(data) >= 2 else math.nan
        return float(data.mean()), std


def summarize(values: Sequence[float], seeds: Sequence[int] = ()) -> MetricSpread:
    """Spread statistics of one sample."""
    n = len(values)
    if n == 0:
        return MetricSpread(0, None, None, None, None, None, None, list(seeds))
    data = np.asarray(values, dtype=np.float64)
    mean, sd = _mean_std(data)
    lo, hi = float(data.min()), float(data.max())
    std: float | None = None
    ci: tuple[float, float] | None = None
    if n >= 2:
        std = sd
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
        ci = (mean - half, mean + half)
    return MetricSpread(n, mean, std, lo, hi, hi - lo, ci, list(seeds))


def compute_spread(
    runs: Sequence[RunData], metrics: Sequence[str] | None = None
) -> dict[str, MetricSpread]:
    """Spread of each final metric across seeds, using one succeeded run per seed."""
    chosen = one_run_per_seed(runs)
    if metrics is None:
        names = sorted({key for run in chosen for key in run.final_metrics})
    else:
        names = list(metrics)
    out: dict[str, MetricSpread] = {}
    for name in names:
        pairs = [(run.seed, run.final_metrics[name]) for run in chosen if name in run.final_metrics]
        out[name] = summarize([v for _, v in pairs], [s for s, _ in pairs])
    return out


CurveArrays = tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.float64]]]


def as_arrays(points: Sequence[tuple[int, float]]) -> CurveArrays:
    """A curve as its step and value arrays."""
    steps = np.fromiter((p[0] for p in points), dtype=np.int64, count=len(points))
    values = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points))
    return steps, values


def band(runs: Sequence[RunData], metric: str) -> list[tuple[int, float, float | None]]:
    """Per epoch: mean and std (ddof=1, None for one seed) across one run per seed.

    Only seeds whose chosen run logged the metric take part, and only epochs all of them logged.
    """
    chosen = [as_arrays(run.curves.get(metric, [])) for run in one_run_per_seed(runs)]
    steps, means, stds = band_arrays(chosen)
    if stds is None:
        return [(step, mean, None) for step, mean in zip(steps, means, strict=True)]
    return list(zip(steps, means, stds, strict=True))


def band_arrays(
    curves: Sequence[CurveArrays],
) -> tuple[list[int], list[float], list[float] | None]:
    """band() over step and value arrays (one curve per seed): steps, means, stds or None."""
    curves = [c for c in curves if len(c[0])]
    if not curves:
        return [], [], None
    first_steps = curves[0][0]
    if bool(np.all(np.diff(first_steps) > 0)) and all(
        np.array_equal(steps, first_steps) for steps, _ in curves
    ):
        # The usual case (every seed logged the same epochs): stack the values as they are.
        common = first_steps.tolist()
        matrix = np.vstack([values for _, values in curves])
    else:
        # A later duplicate step wins, as in a dict of (step, value) pairs.
        maps = [dict(zip(steps.tolist(), values.tolist(), strict=True)) for steps, values in curves]
        common = sorted(set.intersection(*(set(m) for m in maps)))
        if not common:
            return [], [], None
        matrix = np.array([[m[step] for step in common] for m in maps], dtype=np.float64)
    # One row per seed, one column per epoch: a 100-seed x 1,000-epoch band in one numpy pass.
    first = matrix[0]
    same = np.all(matrix == first, axis=0)
    with np.errstate(invalid="ignore"):
        means = np.where(same, first, matrix.mean(axis=0))
        if len(curves) < 2:
            return common, means.tolist(), None
        stds = np.where(same, 0.0, matrix.std(axis=0, ddof=1))
    return common, means.tolist(), stds.tolist()

"""Spread of final metrics across seeds, one run per seed."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from seedlab.analysis.types import RunData

# The 95% CI of the mean: Student's t for an unbounded metric; for one bounded in [0, 1], Hall's
# skewness-corrected t (Hall 1992), clipped to [0, 1]. Near a bound seeds' values are skewed,
# where plain t undercovers (about 91% at a mean of 0.99, n = 5) and a logit-t interval misses
# the mean outright as n grows; tests/analysis/test_spread_bounded.py measures the coverage.
CI_T = "t"
CI_BOUNDED = "hall-t-clipped"
CI_T_CLIPPED = "t-clipped"
CI_METHODS = {
    CI_T: "Student's t with n-1 degrees of freedom",
    CI_T_CLIPPED: "Student's t (two seeds), clipped to [0, 1]",
    CI_BOUNDED: "Hall's skewness-corrected t (1992), clipped to [0, 1]",
}
UNIT_BOUNDS = (0.0, 1.0)
# Metrics bounded in [0, 1] by name: Keras' accuracy variants, AUC, precision, recall, F1.
_BOUNDED_PARTS = ("accuracy", "precision", "recall")
_BOUNDED_WORDS = frozenset({"acc", "auc", "f1", "prc"})


def is_bounded_metric(metric: str) -> bool:
    """True for names of metrics bounded in [0, 1] (val_accuracy, auc_1, f1_score, val_recall)."""
    name = metric.lower()
    words = set(re.split(r"[^a-z0-9]+", name))
    return any(part in name for part in _BOUNDED_PARTS) or bool(words & _BOUNDED_WORDS)


@dataclass(frozen=True)
class MetricSpread:
    """n, mean, std (ddof=1), min, max, range and the 95% CI of the mean (ci_method names it)."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    range: float | None
    ci95: tuple[float, float] | None
    seeds: list[int] = field(default_factory=list)
    ci_method: str = CI_T

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
            "ci_method": self.ci_method,
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


FloatMatrix = np.ndarray[Any, np.dtype[np.float64]]


def bounded_ci95(
    samples: FloatMatrix, bounds: tuple[float, float] = UNIT_BOUNDS
) -> tuple[FloatMatrix, FloatMatrix]:
    """Hall's skewness-corrected t 95% CI of the mean of each row (n >= 3), clipped to bounds.

    Hall (1992), "On the removal of skewness by transformation": with T = (mean - mu) / s and
    the sample skewness g, g(T) = T + gT^2/3 + g^2T^3/27 + g/(6n) is about t(n-1)/sqrt(n); g() is
    monotone, so the interval inverts it in closed form. Identical values give [mean, mean].
    """
    data = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    n = data.shape[1]
    mean = data.mean(axis=1)
    dev = data - mean[:, None]
    s = np.sqrt(np.sum(dev**2, axis=1) / (n - 1))
    # The unbiased third central moment over s^3 (n >= 3), 0 where every value is the same.
    with np.errstate(invalid="ignore", divide="ignore"):
        m3 = np.sum(dev**3, axis=1) * n / ((n - 1) * (n - 2)) if n >= 3 else np.zeros(len(data))
        skew = np.where(s > 0, m3 / s**3, 0.0)
    c = float(stats.t.ppf(0.975, n - 1)) / math.sqrt(n)

    def inverse(y: float) -> FloatMatrix:
        # The closed-form inverse of g(); plain T = y where the skewness is (almost) zero.
        with np.errstate(invalid="ignore", divide="ignore"):
            root = (3 / skew) * (np.cbrt(1 + skew * (y - skew / (6 * n))) - 1)
        return np.where(np.abs(skew) > 1e-12, root, y)

    lo = np.clip(mean - s * inverse(c), *bounds)
    hi = np.clip(mean - s * inverse(-c), *bounds)
    return lo, hi


def summarize(
    values: Sequence[float], seeds: Sequence[int] = (), *, bounded: bool = False
) -> MetricSpread:
    """Spread statistics of one sample; bounded: the metric lies in [0, 1] (see CI_METHODS)."""
    n = len(values)
    if n == 0:
        return MetricSpread(0, None, None, None, None, None, None, list(seeds))
    data = np.asarray(values, dtype=np.float64)
    mean, sd = _mean_std(data)
    lo, hi = float(data.min()), float(data.max())
    std: float | None = None
    ci: tuple[float, float] | None = None
    # A value outside [0, 1] means the name misled: such a metric is not bounded after all.
    in_unit = bounded and bool(np.all((data >= 0.0) & (data <= 1.0)))
    method = (CI_BOUNDED if n >= 3 else CI_T_CLIPPED) if in_unit else CI_T
    if n >= 2:
        std = sd
        if method == CI_BOUNDED and sd > 0:
            low, high = bounded_ci95(data[None, :])
            ci = (float(low[0]), float(high[0]))
        else:
            half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
            ci = (mean - half, mean + half)
            if in_unit:
                ci = (max(ci[0], 0.0), min(ci[1], 1.0))
    return MetricSpread(n, mean, std, lo, hi, hi - lo, ci, list(seeds), method)


def compute_spread(
    runs: Sequence[RunData],
    metrics: Sequence[str] | None = None,
    *,
    bounded: Collection[str] = (),
) -> dict[str, MetricSpread]:
    """Spread of each final metric across seeds, using one succeeded run per seed.

    A metric is bounded in [0, 1] by its name (is_bounded_metric) or when listed in bounded."""
    chosen = one_run_per_seed(runs)
    if metrics is None:
        names = sorted({key for run in chosen for key in run.final_metrics})
    else:
        names = list(metrics)
    out: dict[str, MetricSpread] = {}
    for name in names:
        pairs = [(run.seed, run.final_metrics[name]) for run in chosen if name in run.final_metrics]
        out[name] = summarize(
            [v for _, v in pairs],
            [s for s, _ in pairs],
            bounded=name in bounded or is_bounded_metric(name),
        )
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

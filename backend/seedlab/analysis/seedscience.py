"""Seed science: probability of improvement, seed lottery, seeds needed, churn, decomposition."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from seedlab.analysis import significance
from seedlab.analysis.significance import ALPHA, POWER

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Conclusion = Literal["better", "not_better", "inconclusive"]
# Seed values as a list or a NumPy array.
Values = Sequence[float] | np.ndarray[Any, Any]

GAMMA = 0.75
RESAMPLES = 10_000
# Decomposition sources in report order; "kernels" is same-seed repeats (nondeterministic ops).
SOURCES = ("init", "order", "split", "kernels")


def _sample(values: Values, name: str, minimum: int = 2) -> FloatArray:
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or len(data) < minimum:
        raise ValueError(f"{name} needs at least {minimum} values, got {data.size}")
    if not bool(np.all(np.isfinite(data))):
        raise ValueError(f"{name} has non-finite values")
    return data


@dataclass(frozen=True)
class ProbImprovement:
    """P(B > A) over paired seeds, its bootstrap CI and the three-way conclusion."""

    value: float
    ci95: tuple[float, float]
    gamma: float
    conclusion: Conclusion
    seeds_to_decide: int | None

    def to_dict(self) -> dict[str, Any]:
        """The `prob_improvement` JSON object of the compare response."""
        return {"value": self.value, "ci95": list(self.ci95), "gamma": self.gamma}


def conclude(lo: float, hi: float, *, gamma: float = GAMMA) -> Conclusion:
    """Bouthillier et al. (2021): better, not better (below 0.5 or below gamma), or undecided."""
    if lo > 0.5 and hi > gamma:
        return "better"
    if hi < 0.5 or hi < gamma:
        return "not_better"
    return "inconclusive"


def prob_improvement(
    a: Values,
    b: Values,
    *,
    higher_is_better: bool = True,
    gamma: float = GAMMA,
    alpha: float = ALPHA,
    resamples: int = RESAMPLES,
    rng_seed: int = 0,
) -> ProbImprovement:
    """Share of seed pairs (a[i], b[i]) where B beats A (ties count half), percentile bootstrap CI.

    Resampling n pairs with replacement only changes how many wins, ties and losses are drawn,
    so the bootstrap draws those counts from the multinomial directly (the same distribution).
    seeds_to_decide, for an inconclusive result, scales the seed count by the square of how much
    the CI must shrink to clear the nearest deciding bound (the CI narrows as 1/sqrt(n)).
    """
    if not 0.5 < gamma < 1:
        raise ValueError(f"gamma must be in (0.5, 1), got {gamma}")
    xa, xb = _sample(a, "sample a"), _sample(b, "sample b")
    if len(xa) != len(xb):
        raise ValueError(f"paired samples need equal lengths, got {len(xa)} and {len(xb)}")
    diff = (xb - xa) if higher_is_better else (xa - xb)
    n = len(diff)
    wins, ties = int(np.sum(diff > 0)), int(np.sum(diff == 0))
    probs = np.array([wins, ties, n - wins - ties], dtype=np.float64) / n
    counts = np.random.default_rng(rng_seed).multinomial(n, probs, size=resamples)
    shares = (counts[:, 0] + 0.5 * counts[:, 1]) / n
    lo, hi = (float(q) for q in np.percentile(shares, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    value = (wins + 0.5 * ties) / n
    conclusion = conclude(lo, hi, gamma=gamma)
    needed = None
    if conclusion == "inconclusive":
        distance = max(gamma - value, value - 0.5)
        half = (hi - lo) / 2
        needed = max(n + 1, math.ceil(n * (half / distance) ** 2))
    return ProbImprovement(value, (lo, hi), gamma, conclusion, needed)


def expected_best_of_k(values: Values, *, higher_is_better: bool = True) -> list[float]:
    """E[best of k seeds] for k = 1..n (Dodge et al. 2019): sum_i v_(i) [(i/n)^k - ((i-1)/n)^k].

    The order-statistics estimator: k seeds drawn with replacement from the n observed ones.
    For a lower-is-better metric the best is the minimum.
    """
    data = _sample(values, "expected_best_of_k", minimum=1)
    signed = np.sort(data if higher_is_better else -data)
    n = len(signed)
    ranks = np.arange(1, n + 1, dtype=np.float64) / n
    below = np.arange(0, n, dtype=np.float64) / n
    out = []
    for k in range(1, n + 1):
        weights = ranks**k - below**k
        best = float(np.dot(weights, signed))
        out.append(best if higher_is_better else -best)
    return out


def seed_lottery(values: Values, *, higher_is_better: bool = True) -> dict[str, Any]:
    """The report's seed_lottery entry: E[best of k] for k = 1..n and how much best-of-n inflates.

    inflation is E[best of n] - mean: what reporting the best of the job's n seeds adds to the
    metric compared with one seed picked blindly (signed: negative for lower-is-better).
    """
    curve = expected_best_of_k(values, higher_is_better=higher_is_better)
    return {
        "expected_best_of_k": curve,
        "higher_is_better": higher_is_better,
        "inflation": curve[-1] - curve[0],
    }


def percentile_of(values: Values, x: float, *, higher_is_better: bool = True) -> float:
    """Where x falls among the seeds, 0-100: the share of seeds it beats (ties count half)."""
    data = _sample(values, "percentile_of", minimum=1)
    score = float(stats.percentileofscore(data, x, kind="mean"))
    return score if higher_is_better else 100.0 - score


def seeds_for_halfwidth(std: float, target: float, *, alpha: float = ALPHA) -> int | None:
    """Smallest n >= 2 whose t-based CI half-width t_{1-alpha/2, n-1} * std / sqrt(n) <= target."""
    if target <= 0:
        raise ValueError(f"target half-width must be positive, got {target}")
    return significance.seeds_for_halfwidth(std, target, alpha=alpha)


def seeds_needed(
    values: Values,
    *,
    halfwidth: float | None = None,
    difference: float | None = None,
    power: float = POWER,
    alpha: float = ALPHA,
) -> dict[str, int | None]:
    """Seeds for a target CI half-width and per job to detect a difference at the given power.

    From a job of at least 3 seeds: its std (ddof=1) stands in for the seed noise. The same
    calculation (significance.seeds_needed_at) gives the compare page's seeds for 80% power.
    """
    data = _sample(values, "seeds_needed", minimum=3)
    if halfwidth is not None and halfwidth <= 0:
        raise ValueError(f"target half-width must be positive, got {halfwidth}")
    std = float(np.std(data, ddof=1))
    return significance.seeds_needed_at(
        std, halfwidth=halfwidth, difference=difference, power=power, alpha=alpha
    )


@dataclass(frozen=True)
class Churn:
    """How predictions move between seeds on one validation set."""

    flip_rate: float
    mean_abs_score_diff: float
    noise_floor_std: float | None
    observed_std: float | None
    top_flips: list[tuple[int, float]]

    def to_dict(self) -> dict[str, Any]:
        """The report's `churn` object (top_flips: example index and its flip share)."""
        return {
            "flip_rate": self.flip_rate,
            "mean_abs_score_diff": self.mean_abs_score_diff,
            "noise_floor_std": self.noise_floor_std,
            "observed_std": self.observed_std,
            "top_flips": [[i, share] for i, share in self.top_flips],
        }


def prediction_churn(
    scores: Sequence[Sequence[float]] | np.ndarray[Any, Any],
    labels: Sequence[int] | np.ndarray[Any, Any] | None = None,
    *,
    threshold: float = 0.5,
    top: int = 10,
) -> Churn:
    """Churn of a seeds x examples score matrix; with labels, the test-set noise floor too.

    flip_rate: share of examples whose predicted class is not the same under every seed.
    mean_abs_score_diff: mean |s_a - s_b| over all seed pairs and examples.
    noise_floor_std (Jordan 2024): sqrt(sum_i p_i (1 - p_i)) / n, p_i the share of seeds that
    classify example i correctly, the accuracy std if errors were independent across examples;
    observed_std is the accuracy std (ddof=1) across seeds.
    """
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 1:
        raise ValueError(f"scores must be seeds x examples with 2+ seeds, got {matrix.shape}")
    if not bool(np.all(np.isfinite(matrix))):
        raise ValueError("scores have non-finite values")
    seeds, n = matrix.shape
    predicted = matrix >= threshold
    positives = predicted.sum(axis=0)
    flips = (positives > 0) & (positives < seeds)
    # Share of seed pairs that disagree on the example: pos * neg over all pairs.
    pair_share = positives * (seeds - positives) / (seeds * (seeds - 1) / 2)
    order = np.argsort(-pair_share, kind="stable")[:top]
    top_flips = [(int(i), float(pair_share[i])) for i in order if pair_share[i] > 0]
    sorted_scores = np.sort(matrix, axis=0)
    # Sum over pairs of |x_i - x_j| from sorted values: sum_j (2j - m + 1) x_(j).
    coeff = 2 * np.arange(seeds) - seeds + 1
    pair_sum = float(np.sum(coeff[:, None] * sorted_scores))
    mean_abs = pair_sum / (n * seeds * (seeds - 1) / 2)
    floor: float | None = None
    observed: float | None = None
    if labels is not None:
        truth = np.asarray(labels).astype(bool)
        if truth.shape != (n,):
            raise ValueError(f"labels must have {n} entries, got {truth.shape}")
        correct = predicted == truth[None, :]
        p = correct.mean(axis=0)
        floor = float(math.sqrt(float(np.sum(p * (1 - p)))) / n)
        observed = float(np.std(correct.mean(axis=1), ddof=1))
    return Churn(float(flips.mean()), mean_abs, floor, observed, top_flips)


@dataclass(frozen=True)
class Decomposition:
    """Each source's share of the metric's variance with a bootstrap CI, and the residual."""

    sources: dict[str, tuple[float, tuple[float, float]]]
    residual: float

    def to_dict(self) -> dict[str, Any]:
        """The report's `decomposition[metric]` object."""
        return {
            "sources": {
                name: {"share": share, "ci95": list(ci)}
                for name, (share, ci) in self.sources.items()
            },
            "residual": self.residual,
        }


def _components(groups: FloatArray, kernel: int | None) -> FloatArray:
    """Variance components (..., sources) from per-group samples (..., groups, m)."""
    var = groups.var(axis=-1, ddof=1)
    if kernel is not None:
        # Kernel noise is inside every seeded group too: only what it adds there is the source's.
        var = np.concatenate([var[..., :kernel] - var[..., kernel : kernel + 1],
                              var[..., kernel:]], axis=-1)
    return np.asarray(np.clip(var, 0.0, None), dtype=np.float64)


def _shares(components: FloatArray) -> FloatArray:
    total = components.sum(axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    return np.asarray(np.where(total > 0, components / safe, 0.0), dtype=np.float64)


def _logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


def decompose_variance(
    groups: Mapping[str, Values],
    *,
    all_vary: Values | None = None,
    alpha: float = ALPHA,
    resamples: int = 2000,
    rng_seed: int = 0,
) -> Decomposition:
    """Shares of variance from one-source-at-a-time seed groups (Bouthillier et al. 2021 design).

    groups: source name (init, order, split, kernels) -> the metric over runs where only that
    source's seed varies, the others held at the base seed; `kernels` holds same-seed repeats
    with nondeterministic kernels, whose variance is also inside every other group and so is
    subtracted from them. Shares are of the sum of the sources' variances. all_vary: runs
    varying every seed; residual is the share of its variance beyond the sources' sum
    (interactions between sources), 0 without it. Each group is resampled independently.
    """
    unknown = sorted(set(groups) - set(SOURCES))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; allowed: {list(SOURCES)}")
    names = [name for name in SOURCES if name in groups]
    if not names:
        raise ValueError("decompose_variance needs at least one source group")
    data = [_sample(groups[name], f"group {name}") for name in names]
    sizes = {len(d) for d in data}
    if len(sizes) != 1:
        raise ValueError(f"every group needs the same number of runs, got {sorted(sizes)}")
    stacked = np.stack(data)
    vary = None if all_vary is None else _sample(all_vary, "all_vary")
    kernel = names.index("kernels") if "kernels" in names else None
    point = _shares(_components(stacked, kernel))
    rng = np.random.default_rng(rng_seed)
    m = stacked.shape[1]
    picks = rng.integers(0, m, size=(resamples, len(names), m))
    boot = _shares(_components(np.take_along_axis(stacked[None, :, :], picks, axis=2), kernel))
    # Basic (pivotal) interval on the logit scale: a variance estimate is skewed, and the
    # plain percentile interval of a share under-covers (simulated: ~88% for nominal 95%).
    centre = _logit(point)
    q_lo, q_hi = np.percentile(_logit(boot), [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    lo = 1 / (1 + np.exp(-(2 * centre - q_hi)))
    hi = 1 / (1 + np.exp(-(2 * centre - q_lo)))
    residual = 0.0
    if vary is not None:
        total = float(np.var(vary, ddof=1))
        explained = float(np.sum(_components(stacked, kernel)))
        residual = max(0.0, total - explained) / total if total > 0 else 0.0
    sources = {
        name: (float(point[i]), (float(lo[i]), float(hi[i]))) for i, name in enumerate(names)
    }
    return Decomposition(sources, residual)

"""Is job B better than job A beyond seed noise? Two samples of one final metric per seed."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
# Above this many seeds per group the noncentral t loses precision (scipy, df ~ 1e6) while
# Guenther's corrected normal approximation already equals the exact answer.
EXACT_POWER_LIMIT = 100_000
# Bootstrap resamples drawn per block, so memory stays small for jobs with many seeds.
_BLOCK = 1000

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


# Direction guessed from the metric name: Keras reports losses and errors, lower is better.
LOWER_IS_BETTER_PARTS = ("loss", "error", "crossentropy", "hinge")
LOWER_IS_BETTER_WORDS = frozenset({"mse", "mae", "rmse", "mape", "msle", "perplexity"})


def lower_is_better(metric: str) -> bool:
    """True for loss- and error-like names (val_loss, mean_squared_error, val_mae)."""
    name = metric.lower()
    words = set(re.split(r"[^a-z0-9]+", name))
    return any(part in name for part in LOWER_IS_BETTER_PARTS) or bool(
        words & LOWER_IS_BETTER_WORDS
    )


@dataclass(frozen=True)
class Comparison:
    """Two-sample comparison of one metric: effect, tests, bootstrap CI and a verdict sentence."""

    metric: str
    higher_is_better: bool
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    diff: float
    ci95: tuple[float, float]
    p_welch: float
    p_mannwhitney: float
    cohens_d: float
    paired: bool
    p_paired_t: float | None
    p_wilcoxon: float | None
    seeds_needed: int | None
    significant: bool
    sentence: str
    bootstrap: int
    rng_seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: a statistic that is NaN or infinite (undefined) becomes None."""
        lo, hi = _finite(self.ci95[0]), _finite(self.ci95[1])
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "mean_a": _finite(self.mean_a),
            "mean_b": _finite(self.mean_b),
            "std_a": _finite(self.std_a),
            "std_b": _finite(self.std_b),
            "diff": _finite(self.diff),
            "ci95": [lo, hi] if lo is not None and hi is not None else None,
            "p_welch": _finite(self.p_welch),
            "p_mannwhitney": _finite(self.p_mannwhitney),
            "cohens_d": _finite(self.cohens_d),
            "paired": self.paired,
            "p_paired_t": _finite(self.p_paired_t),
            "p_wilcoxon": _finite(self.p_wilcoxon),
            "seeds_needed": self.seeds_needed,
            "significant": self.significant,
            "sentence": self.sentence,
            "bootstrap": self.bootstrap,
            "rng_seed": self.rng_seed,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _quiet(test: Callable[[], Any]) -> float:
    """The p-value of a scipy test; NaN where the test is undefined (e.g. zero variance)."""
    # Constant samples make scipy warn and return NaN; to_dict reports that as None, so the
    # warnings (precision loss, degenerate data) add nothing.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return float(test().pvalue)


def _power(n: int, d: float, alpha: float) -> float:
    """Power of the two-sided two-sample t-test with n per group at effect size d."""
    df = 2 * n - 2
    noncentrality = abs(d) * math.sqrt(n / 2)
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    return float(
        stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
    )


def seeds_for_power(d: float, *, power: float = POWER, alpha: float = ALPHA) -> int | None:
    """Seeds per group for a two-sided two-sample t-test to detect d; None when d is 0 or inf.

    Exact: the smallest n >= 2 whose noncentral-t power reaches `power` (what G*Power reports:
    d = 0.5 -> 64). Beyond EXACT_POWER_LIMIT it uses the normal approximation
    2 * ((z_{1-alpha/2} + z_power) / d)^2 plus Guenther's z_{1-alpha/2}^2 / 4, rounded up.
    """
    if d == 0 or not math.isfinite(d):
        return None
    z_alpha = float(stats.norm.ppf(1 - alpha / 2))
    normal = 2 * ((z_alpha + float(stats.norm.ppf(power))) / abs(d)) ** 2
    if normal > EXACT_POWER_LIMIT:
        return math.ceil(normal + z_alpha**2 / 4)
    # Power grows with n: double until it is reached, then bisect (lo fails, hi passes).
    lo, hi = 1, 2
    while _power(hi, d, alpha) < power:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _power(mid, d, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def seeds_for_halfwidth(
    std: float, halfwidth: float, *, alpha: float = ALPHA, limit: int = 1_000_000
) -> int | None:
    """Seeds whose t-based CI of the mean (1 - alpha) is at most `halfwidth` on each side, at std.

    The smallest n >= 2 with t_{1-alpha/2, n-1} * std / sqrt(n) <= halfwidth; None beyond
    `limit` or for a halfwidth of 0 with some spread.
    """
    if std == 0:
        return 2
    if halfwidth <= 0 or not math.isfinite(std):
        return None

    def wide(n: int) -> bool:
        return float(stats.t.ppf(1 - alpha / 2, n - 1)) * std / math.sqrt(n) > halfwidth

    # Width shrinks with n: double until narrow enough, then bisect (lo too wide, hi enough).
    lo, hi = 1, 2
    while wide(hi):
        if hi > limit:
            return None
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if wide(mid):
            lo = mid
        else:
            hi = mid
    return hi


def seeds_needed_at(
    std: float,
    *,
    halfwidth: float | None = None,
    difference: float | None = None,
    power: float = POWER,
    alpha: float = ALPHA,
) -> dict[str, int | None]:
    """Seeds for a target CI half-width, and per job to detect `difference` at `power`, when
    the seed noise is `std`: the one calculation behind the job report and the compare page.

    A difference with no noise at all (std 0) is detected by the smallest t-test sample, 2.
    """
    out: dict[str, int | None] = {}
    if halfwidth is not None:
        out["halfwidth"] = seeds_for_halfwidth(std, halfwidth, alpha=alpha)
    if difference is not None:
        if difference != 0 and std == 0:
            out["difference"] = 2
        else:
            d = difference / std if std > 0 else 0.0
            out["difference"] = seeds_for_power(d, power=power, alpha=alpha)
    return out


def bootstrap_ci(
    a: FloatArray, b: FloatArray, *, resamples: int, rng_seed: int
) -> tuple[float, float]:
    """Percentile 95% CI of mean(b) - mean(a), resampling each group independently."""
    rng = np.random.default_rng(rng_seed)
    diffs = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _BLOCK):
        rows = min(_BLOCK, resamples - start)
        means_a = a[rng.integers(0, len(a), size=(rows, len(a)))].mean(axis=1)
        means_b = b[rng.integers(0, len(b), size=(rows, len(b)))].mean(axis=1)
        diffs[start : start + rows] = means_b - means_a
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def _moments(x: FloatArray) -> tuple[float, float]:
    """Mean and variance (ddof=1), exactly summed so the order of the seeds cannot matter."""
    first = float(x[0])
    # Round-off would otherwise give identical values a mean off by an ulp and a tiny spread.
    if bool(np.all(x == first)):
        return first, 0.0
    mean = math.fsum(x.tolist()) / len(x)
    return mean, math.fsum(((x - mean) ** 2).tolist()) / (len(x) - 1)


def _pooled_std(a: FloatArray, b: FloatArray) -> float:
    """The pooled SD (ddof=1) of two samples, cohens_d's denominator."""
    (_, var_a), (_, var_b) = _moments(a), _moments(b)
    return math.sqrt(((len(a) - 1) * var_a + (len(b) - 1) * var_b) / (len(a) + len(b) - 2))


def cohens_d(a: FloatArray, b: FloatArray) -> float:
    """(mean(b) - mean(a)) / pooled SD (ddof=1); 0 for equal means, +-inf with no spread."""
    (mean_a, var_a), (mean_b, var_b) = _moments(a), _moments(b)
    diff = mean_b - mean_a
    pooled_var = ((len(a) - 1) * var_a + (len(b) - 1) * var_b) / (len(a) + len(b) - 2)
    if diff == 0:
        return 0.0
    if pooled_var == 0:
        return math.copysign(math.inf, diff)
    return diff / math.sqrt(pooled_var)


def format_p(p: float) -> str:
    """'p = 0.01' with two significant digits, or 'p < 0.001'."""
    if not math.isfinite(p):
        return "p undefined"
    if p < 0.001:
        return "p < 0.001"
    text = f"{p:.2g}"
    # Rounding must not lift a significant p to the 0.05 threshold (or drop one to it).
    if float(text) == ALPHA and p != ALPHA:
        text = f"{p:.3g}"
    return f"p = {text}"


def _num(value: float) -> str:
    return f"{value:.3g}"


def _seed_count(n_a: int, n_b: int) -> str:
    return f"{n_a} seeds each" if n_a == n_b else f"{n_a} seeds for A, {n_b} for B"


def comparison_sentence(c: Comparison) -> str:
    """The plain-English sentence: who wins by how much, or that it is within seed noise."""
    count = _seed_count(c.n_a, c.n_b)
    unit = f" {c.metric}" if c.metric else ""
    subject = f"The difference in {c.metric}" if c.metric else "The difference"
    lo, hi = c.ci95
    if not math.isfinite(c.p_welch):
        # Welch's test is only undefined when every value of both samples is the same.
        return (
            f"A and B gave the same {c.metric or 'value'}, {_num(c.mean_a)}, for every seed "
            f"({count}): there is no difference to test."
        )
    if c.significant:
        # Report the winner's margin, so a lower-is-better metric also reads as a gain.
        sign = 1.0 if c.higher_is_better else -1.0
        margin = sign * c.diff
        winner, loser = ("B", "A") if margin > 0 else ("A", "B")
        flip = 1.0 if margin > 0 else -1.0
        low, high = sorted((flip * sign * lo, flip * sign * hi))
        note = "" if c.higher_is_better else "lower is better; "
        return (
            f"{winner} beats {loser} by {_num(abs(margin))}{unit} ({note}95% CI "
            f"{_num(low)} to {_num(high)}, {format_p(c.p_welch)}, {count})."
        )
    details = f"B - A = {_num(c.diff)}, 95% CI {_num(lo)} to {_num(hi)}, {count}"
    if c.p_welch < ALPHA:
        return (
            f"{subject} is not clearly beyond seed noise: Welch's test gives "
            f"{format_p(c.p_welch)} but the bootstrap CI includes 0 ({details})."
        )
    return f"{subject} is within seed noise ({format_p(c.p_welch)}, {details})."


def _checked(values: Sequence[float], name: str) -> FloatArray:
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or len(data) < 2:
        raise ValueError(f"sample {name} needs at least 2 values, got {data.size}")
    if not bool(np.all(np.isfinite(data))):
        raise ValueError(f"sample {name} has non-finite values")
    return data


def _by_seed(values: FloatArray, seeds: Sequence[int] | None, name: str) -> FloatArray:
    """The values in seed order, so results cannot depend on the order runs were listed in."""
    if seeds is None:
        return values
    if len(seeds) != len(values):
        raise ValueError(f"seeds_{name} has {len(seeds)} seeds for {len(values)} values")
    order = sorted(range(len(seeds)), key=lambda i: seeds[i])
    return values[order]


def _same_seeds(seeds_a: Sequence[int] | None, seeds_b: Sequence[int] | None) -> bool:
    """Both samples cover the same distinct seeds, so seed-sorted values pair up."""
    if seeds_a is None or seeds_b is None or len(set(seeds_a)) != len(seeds_a):
        return False
    return len(seeds_a) == len(seeds_b) and set(seeds_a) == set(seeds_b)


def compare_samples(
    a: Sequence[float],
    b: Sequence[float],
    *,
    seeds_a: Sequence[int] | None = None,
    seeds_b: Sequence[int] | None = None,
    bootstrap: int = 10000,
    rng_seed: int = 0,
    metric: str = "",
    higher_is_better: bool = True,
    seeds_applied: bool = True,
) -> Comparison:
    """Compare sample b against a (at least 2 finite values each); diff and CI are b - a.

    Given seeds, values are taken in seed order (results do not depend on listing order).
    Significant means Welch's p < 0.05 and the bootstrap CI excludes 0. When both samples
    cover the same seeds they are also compared pairwise (paired t, Wilcoxon signed-rank),
    unless seeds_applied is false: a job that seeded nothing has seed numbers that pair nothing.
    seeds_needed is exact (noncentral t), see seeds_for_power.
    """
    if bootstrap < 1:
        raise ValueError("bootstrap needs at least 1 resample")
    xa = _by_seed(_checked(a, "a"), seeds_a, "a")
    xb = _by_seed(_checked(b, "b"), seeds_b, "b")
    (mean_a, var_a), (mean_b, var_b) = _moments(xa), _moments(xb)
    d = cohens_d(xa, xb)
    paired = seeds_applied and _same_seeds(seeds_a, seeds_b)
    p_paired_t: float | None = None
    p_wilcoxon: float | None = None
    if paired:
        p_paired_t = _quiet(lambda: stats.ttest_rel(xb, xa))
        if bool(np.any(xb != xa)):  # Wilcoxon is undefined when every difference is 0
            p_wilcoxon = _quiet(lambda: stats.wilcoxon(xb, xa))
    ci = bootstrap_ci(xa, xb, resamples=bootstrap, rng_seed=rng_seed)
    p_welch = _quiet(lambda: stats.ttest_ind(xa, xb, equal_var=False))
    draft = Comparison(
        metric=metric,
        higher_is_better=higher_is_better,
        n_a=len(xa),
        n_b=len(xb),
        mean_a=mean_a,
        mean_b=mean_b,
        std_a=math.sqrt(var_a),
        std_b=math.sqrt(var_b),
        diff=mean_b - mean_a,
        ci95=ci,
        p_welch=p_welch,
        p_mannwhitney=_quiet(lambda: stats.mannwhitneyu(xa, xb, alternative="two-sided")),
        cohens_d=d,
        paired=paired,
        p_paired_t=p_paired_t,
        p_wilcoxon=p_wilcoxon,
        seeds_needed=seeds_needed_at(_pooled_std(xa, xb), difference=mean_b - mean_a)[
            "difference"
        ],
        significant=p_welch < ALPHA and (ci[0] > 0 or ci[1] < 0),
        sentence="",
        bootstrap=bootstrap,
        rng_seed=rng_seed,
    )
    return replace(draft, sentence=comparison_sentence(draft))

"""The 95% CI of a metric bounded in [0, 1]: inside the bounds, with honest coverage near them."""

from __future__ import annotations

import numpy as np
import pytest

from seedlab.analysis.spread import (
    CI_BOUNDED,
    CI_T,
    CI_T_CLIPPED,
    bounded_ci95,
    compute_spread,
    is_bounded_metric,
    summarize,
)
from seedlab.analysis.types import RunData

REPEATS = 40_000  # the coverage estimate's standard error: about 0.1%


def _beta(rng: np.random.Generator, mean: float, sd: float, n: int) -> np.ndarray:
    k = mean * (1 - mean) / sd**2 - 1
    return rng.beta(mean * k, (1 - mean) * k, size=(REPEATS, n))


def _binomial(rng: np.random.Generator, p: float, examples: int, n: int) -> np.ndarray:
    return rng.binomial(examples, p, size=(REPEATS, n)) / examples


# Seed noise as seen on real jobs: a smooth metric (AUC-like, Beta) and an accuracy counted on
# a validation set of 200 or 61 examples (where 1.0 itself is a common value).
SCENARIOS = {
    "beta mean 0.99 sd 0.005": (lambda rng, n: _beta(rng, 0.99, 0.005, n), 0.99),
    "beta mean 0.99 sd 0.008": (lambda rng, n: _beta(rng, 0.99, 0.008, n), 0.99),
    "beta mean 0.995 sd 0.004": (lambda rng, n: _beta(rng, 0.995, 0.004, n), 0.995),
    "accuracy p 0.99 on 200": (lambda rng, n: _binomial(rng, 0.99, 200, n), 0.99),
    "accuracy p 0.97 on 61": (lambda rng, n: _binomial(rng, 0.97, 61, n), 0.97),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("n", [5, 10, 20, 30])
def test_coverage_near_the_bound_stays_between_93_and_97_percent(scenario: str, n: int) -> None:
    draw, true_mean = SCENARIOS[scenario]
    rng = np.random.default_rng([n, sorted(SCENARIOS).index(scenario)])
    samples = draw(rng, n)
    lo, hi = bounded_ci95(samples)
    assert np.all((lo >= 0.0) & (hi <= 1.0) & (lo <= hi))
    coverage = float(np.mean((lo <= true_mean) & (true_mean <= hi)))
    assert 0.93 <= coverage <= 0.97, f"{scenario}, n={n}: coverage {coverage:.4f}"


def test_plain_t_would_undercover_there() -> None:
    """The reason for the method: Student's t misses more often than 5% at a skewed 0.99."""
    from scipy import stats

    rng = np.random.default_rng(7)
    samples = _beta(rng, 0.99, 0.008, 5)
    mean, sd = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    half = stats.t.ppf(0.975, 4) * sd / np.sqrt(5)
    t_coverage = float(np.mean(np.abs(mean - 0.99) <= half))
    lo, hi = bounded_ci95(samples)
    hall_coverage = float(np.mean((lo <= 0.99) & (hi >= 0.99)))
    assert t_coverage < 0.925 < 0.93 <= hall_coverage


def test_the_issue_s_sample_stays_inside_zero_one() -> None:
    """An accuracy whose t interval read [0.739, 1.005]: the bounded one ends at 1 at most."""
    values = [0.98, 0.72, 0.99, 1.0, 0.95, 0.97, 0.75, 1.0]
    unbounded = summarize(values)
    bounded = summarize(values, bounded=True)
    assert unbounded.ci95 is not None and unbounded.ci95[1] > 1.0
    assert unbounded.ci_method == CI_T
    assert bounded.ci95 is not None and 0.0 <= bounded.ci95[0] < bounded.ci95[1] <= 1.0
    assert bounded.ci_method == CI_BOUNDED
    assert bounded.to_dict()["ci_method"] == CI_BOUNDED


def test_two_seeds_are_clipped_and_identical_values_give_a_point() -> None:
    two = summarize([0.999, 0.96], bounded=True)
    assert two.ci_method == CI_T_CLIPPED and two.ci95 is not None
    assert two.ci95[1] == 1.0 and two.ci95[0] >= 0.0
    same = summarize([0.9, 0.9, 0.9], bounded=True)
    assert same.ci95 == (0.9, 0.9)


def test_a_value_outside_the_bounds_falls_back_to_t() -> None:
    spread = summarize([0.5, 1.2, 0.9], bounded=True)
    assert spread.ci_method == CI_T


def test_names_and_declared_metrics_choose_the_bounded_interval() -> None:
    for name in (
        "accuracy",
        "val_accuracy",
        "val_auc",
        "auc_1",
        "f1_score",
        "val_precision",
        "recall",
        "sparse_categorical_accuracy",
        "val_acc",
    ):
        assert is_bounded_metric(name), name
    for name in ("loss", "val_loss", "mae", "val_mean_squared_error", "score"):
        assert not is_bounded_metric(name), name
    runs = [
        RunData(
            run_id=i,
            seed=i,
            repeat=0,
            status="succeeded",
            final_metrics={
                "val_accuracy": 0.99 - 0.003 * i,
                "score": 0.9 - 0.01 * i,
                "loss": 0.1 + 0.01 * i,
            },
        )
        for i in range(5)
    ]
    plain = compute_spread(runs)
    assert plain["val_accuracy"].ci_method == CI_BOUNDED
    assert plain["score"].ci_method == CI_T and plain["loss"].ci_method == CI_T
    declared = compute_spread(runs, bounded={"score"})
    assert declared["score"].ci_method == CI_BOUNDED

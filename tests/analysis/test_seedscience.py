"""Seed science analyses against known values, brute force, scipy and simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from seedlab.analysis.seedscience import (
    conclude,
    decompose_variance,
    expected_best_of_k,
    percentile_of,
    prediction_churn,
    prob_improvement,
    seeds_for_halfwidth,
    seeds_needed,
)
from seedlab.analysis.significance import bootstrap_ci, seeds_for_power


def test_conclusion_follows_bouthillier_rule() -> None:
    assert conclude(0.55, 0.9) == "better"
    assert conclude(0.1, 0.45) == "not_better"
    assert conclude(0.55, 0.7) == "not_better"  # above 0.5 but entirely below gamma
    assert conclude(0.4, 0.9) == "inconclusive"
    assert conclude(0.55, 0.7, gamma=0.6) == "better"


def test_prob_improvement_counts_wins_ties_half_and_direction() -> None:
    a = [1.0, 2.0, 3.0, 4.0]
    b = [2.0, 2.0, 1.0, 5.0]  # win, tie, loss, win
    higher = prob_improvement(a, b)
    assert higher.value == pytest.approx(2.5 / 4)
    lower = prob_improvement(a, b, higher_is_better=False)
    assert lower.value == pytest.approx(1.5 / 4)
    assert higher.to_dict()["gamma"] == 0.75
    lo, hi = higher.ci95
    assert 0 <= lo <= higher.value <= hi <= 1


def test_prob_improvement_clear_win_is_better_and_undecided_says_how_many_seeds() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=20)
    clear = prob_improvement(a, a + 1.0)
    assert clear.value == 1.0 and clear.conclusion == "better" and clear.seeds_to_decide is None
    mixed = prob_improvement([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 0.5, 3.0, 2.5, 5.0])
    assert mixed.conclusion == "inconclusive"
    assert mixed.seeds_to_decide is not None and mixed.seeds_to_decide > 5


def test_prob_improvement_bootstrap_matches_resampling_pairs() -> None:
    """The multinomial shortcut has the distribution of resampling pairs with replacement."""
    a = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    b = np.array([1.0, 1.0, 1.0, -1.0, 0.0, -1.0])
    fast = prob_improvement(a, b, resamples=20_000, rng_seed=5)
    rng = np.random.default_rng(9)
    idx = rng.integers(0, 6, size=(20_000, 6))
    d = (b - a)[idx]
    slow = ((d > 0) + 0.5 * (d == 0)).mean(axis=1)
    assert fast.ci95 == pytest.approx(tuple(np.percentile(slow, [2.5, 97.5])), abs=1 / 12 + 1e-9)


def test_type_one_error_of_better_over_2000_null_pairs() -> None:
    rng = np.random.default_rng(2021)
    n_sims, n = 2000, 20
    a, b = rng.normal(size=(n_sims, n)), rng.normal(size=(n_sims, n))
    better = sum(
        prob_improvement(a[i], b[i], resamples=2000, rng_seed=i).conclusion == "better"
        for i in range(n_sims)
    )
    assert 0.01 <= better / n_sims <= 0.07


def test_bootstrap_ci_of_mean_difference_covers_truth_93_to_97_percent() -> None:
    # The percentile bootstrap under-covers with few seeds (about 92.5% at 20): 30 per job.
    rng = np.random.default_rng(7)
    n_sims, n = 2000, 30
    covered = 0
    for i in range(n_sims):
        a, b = rng.normal(0.0, 1.0, n), rng.normal(0.3, 1.0, n)
        lo, hi = bootstrap_ci(a, b, resamples=1000, rng_seed=i)
        covered += lo <= 0.3 <= hi
    assert 0.93 <= covered / n_sims <= 0.97


def test_expected_best_of_k_equals_brute_force_over_all_draws() -> None:
    values = [0.71, 0.74, 0.69, 0.80]
    curve = expected_best_of_k(values)
    for k in range(1, 5):
        draws = list(itertools.product(values, repeat=k))
        assert curve[k - 1] == pytest.approx(sum(max(d) for d in draws) / len(draws))
    assert curve[0] == pytest.approx(np.mean(values))
    assert curve == sorted(curve)
    lower = expected_best_of_k(values, higher_is_better=False)
    draws2 = list(itertools.product(values, repeat=2))
    assert lower[1] == pytest.approx(sum(min(d) for d in draws2) / len(draws2))


def test_percentile_of_matches_scipy_and_flips_for_lower_is_better() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile_of(values, 3.0) == stats.percentileofscore(values, 3.0, kind="mean")
    assert percentile_of(values, 5.0) == 100.0
    assert percentile_of(values, 5.0, higher_is_better=False) == 0.0


def test_seeds_for_halfwidth_is_smallest_n_meeting_target() -> None:
    std, target = 0.01, 0.002
    n = seeds_for_halfwidth(std, target)
    assert n is not None

    def half(k: int) -> float:
        return float(stats.t.ppf(0.975, k - 1)) * std / math.sqrt(k)

    assert half(n) <= target < half(n - 1)


def test_seeds_needed_is_one_function_for_halfwidth_and_power() -> None:
    values = [0.80, 0.81, 0.79, 0.82, 0.78]
    std = float(np.std(values, ddof=1))
    out = seeds_needed(values, halfwidth=0.005, difference=0.01)
    assert out["halfwidth"] == seeds_for_halfwidth(std, 0.005)
    assert out["difference"] == seeds_for_power(0.01 / std)
    with pytest.raises(ValueError, match="at least 3"):
        seeds_needed([0.1, 0.2], halfwidth=0.1)


def test_churn_counts_flips_pairs_and_score_differences() -> None:
    scores = [[0.9, 0.2, 0.6, 0.4], [0.8, 0.3, 0.4, 0.4], [0.7, 0.1, 0.55, 0.6]]
    churn = prediction_churn(scores, labels=[1, 0, 1, 0])
    assert churn.flip_rate == pytest.approx(2 / 4)  # examples 2 and 3 flip
    m = np.array(scores)
    pairs = [abs(m[i] - m[j]).mean() for i, j in itertools.combinations(range(3), 2)]
    assert churn.mean_abs_score_diff == pytest.approx(np.mean(pairs))
    assert [i for i, _ in churn.top_flips] == [2, 3]
    assert churn.top_flips[0][1] == pytest.approx(2 / 3)
    accuracy = [(np.array(row) >= 0.5).astype(int) == [1, 0, 1, 0] for row in scores]
    assert churn.observed_std == pytest.approx(np.std([a.mean() for a in accuracy], ddof=1))


def test_noise_floor_matches_observed_std_when_errors_are_independent() -> None:
    rng = np.random.default_rng(11)
    seeds, n = 400, 500
    p_correct = rng.uniform(0.5, 1.0, n)
    correct = rng.random((seeds, n)) < p_correct
    labels = np.ones(n, dtype=int)
    churn = prediction_churn(np.where(correct, 0.9, 0.1), labels)
    assert churn.noise_floor_std is not None and churn.observed_std is not None
    assert churn.noise_floor_std == pytest.approx(
        math.sqrt(float(np.sum(p_correct * (1 - p_correct)))) / n, rel=0.05
    )
    assert churn.observed_std == pytest.approx(churn.noise_floor_std, rel=0.15)


def test_decomposition_recovers_known_shares_within_ci_in_90_percent_of_200_jobs() -> None:
    """Synthetic experiment: metric = init + order + split effects + kernel noise, known SDs."""
    rng = np.random.default_rng(12)
    sd = {"init": 2.0, "order": 1.5, "split": 0.8, "kernels": 0.5}
    total = sum(v * v for v in sd.values())
    truth = {k: v * v / total for k, v in sd.items()}
    m = 20
    hits = dict.fromkeys(sd, 0)
    for job in range(200):
        kernel_noise = rng.normal(0, sd["kernels"], (4, m))
        groups = {
            name: rng.normal(0, sd[name], m) + kernel_noise[i]
            for i, name in enumerate(("init", "order", "split"))
        }
        groups["kernels"] = kernel_noise[3]
        result = decompose_variance(groups, resamples=1000, rng_seed=job)
        for name, (_, (lo, hi)) in result.sources.items():
            hits[name] += lo <= truth[name] <= hi
    for name, count in hits.items():
        assert count / 200 >= 0.90, (name, count)


def test_decomposition_shape_residual_and_absent_sources() -> None:
    rng = np.random.default_rng(1)
    init, order = rng.normal(0, 1, 10), rng.normal(0, 1, 10)
    result = decompose_variance(
        {"init": init, "order": order}, all_vary=rng.normal(0, 3, 10)
    ).to_dict()
    assert set(result["sources"]) == {"init", "order"}
    shares = [s["share"] for s in result["sources"].values()]
    assert sum(shares) == pytest.approx(1.0)
    assert 0 < result["residual"] < 1
    with pytest.raises(ValueError, match="allowed"):
        decompose_variance({"dropout": [1.0, 2.0]})

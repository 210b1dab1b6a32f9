"""compare_samples against scipy and hand-computed statistics on fixed data."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from seedlab.analysis.significance import (
    EXACT_POWER_LIMIT,
    compare_samples,
    comparison_sentence,
    format_p,
    seeds_for_power,
)

A = [0.91, 0.92, 0.93, 0.90, 0.92]
B = [0.93, 0.94, 0.95, 0.93, 0.94]
SEEDS = [1, 2, 3, 4, 5]
Z975 = stats.norm.ppf(0.975)
Z80 = stats.norm.ppf(0.8)


def _power(n: int, d: float) -> float:
    """Two-sided two-sample t-test power at alpha 0.05, written out independently."""
    df = 2 * n - 2
    nc = d * math.sqrt(n / 2)
    crit = stats.t.ppf(0.975, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def test_p_values_are_scipys() -> None:
    c = compare_samples(A, B)
    assert c.p_welch == stats.ttest_ind(A, B, equal_var=False).pvalue
    assert c.p_mannwhitney == stats.mannwhitneyu(A, B, alternative="two-sided").pvalue
    assert not c.paired and c.p_paired_t is None and c.p_wilcoxon is None


def test_means_cohens_d_and_welch_by_hand() -> None:
    c = compare_samples(A, B)
    assert (c.n_a, c.n_b) == (5, 5)
    assert c.mean_a == pytest.approx(0.916, rel=1e-12)
    assert c.mean_b == pytest.approx(0.938, rel=1e-12)
    assert c.diff == pytest.approx(0.022, rel=1e-9)
    # Deviations of A: -6, 4, 14, -16, 4 (e-3) -> SS 520e-6, var 130e-6.
    # Deviations of B: -8, 2, 12, -8, 2 (e-3) -> SS 280e-6, var 70e-6.
    assert c.std_a == pytest.approx(math.sqrt(130e-6), rel=1e-9)
    assert c.std_b == pytest.approx(math.sqrt(70e-6), rel=1e-9)
    # Pooled variance (520 + 280)e-6 / 8 = 100e-6, pooled SD 0.01: d = 0.022 / 0.01.
    assert c.cohens_d == pytest.approx(2.2, rel=1e-9)
    # Welch: se^2 = 130e-6/5 + 70e-6/5 = 40e-6; df = (40e-6)^2 / ((26e-6)^2/4 + (14e-6)^2/4).
    t = 0.022 / math.sqrt(40e-6)
    df = 1600 / ((676 + 196) / 4)
    assert c.p_welch == pytest.approx(2 * stats.t.sf(t, df), rel=1e-9)


def test_cohens_d_sign_and_scale() -> None:
    c = compare_samples([-1.0, 0.0, 1.0], [0.0, 1.0, 2.0])  # both SD 1, means 1 apart
    assert c.cohens_d == pytest.approx(1.0, rel=1e-12)
    assert compare_samples([0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]).cohens_d == pytest.approx(-1.0)
    assert c.seeds_needed == 17  # G*Power: d = 1, alpha .05 two-sided, power .8 -> 17


def test_bootstrap_ci_is_deterministic_and_contains_the_diff() -> None:
    first = compare_samples(A, B, rng_seed=7)
    again = compare_samples(A, B, rng_seed=7)
    assert first.ci95 == again.ci95
    lo, hi = first.ci95
    assert lo < first.diff < hi
    assert lo > 0  # every bootstrap world still has B ahead here
    # Bootstrap means stay within the data: B - A lies between min(B) - max(A) and max(B) - min(A).
    assert min(B) - max(A) <= lo and hi <= max(B) - min(A)
    assert compare_samples(A, B).ci95 == compare_samples(A, B, rng_seed=0).ci95


def test_bootstrap_resamples_each_group_independently() -> None:
    c = compare_samples(A, B, bootstrap=500, rng_seed=3)
    rng = np.random.default_rng(3)
    a, b = np.asarray(A), np.asarray(B)
    means_a = a[rng.integers(0, 5, size=(500, 5))].mean(axis=1)
    means_b = b[rng.integers(0, 5, size=(500, 5))].mean(axis=1)
    expected = np.percentile(means_b - means_a, [2.5, 97.5])
    assert c.ci95 == (float(expected[0]), float(expected[1]))
    assert c.bootstrap == 500 and c.rng_seed == 3


def test_same_seed_set_is_paired_by_seed() -> None:
    # B listed in another seed order: pairs must be matched by seed, not by position.
    order = [3, 1, 5, 2, 4]
    b_shuffled = [B[s - 1] for s in order]
    c = compare_samples(A, b_shuffled, seeds_a=SEEDS, seeds_b=order)
    assert c.paired
    assert c.p_paired_t == stats.ttest_rel(B, A).pvalue
    assert c.p_wilcoxon == stats.wilcoxon(B, A).pvalue
    # Values are taken in seed order, so the listing order cannot change a single bit.
    assert c.to_dict() == compare_samples(A, B, seeds_a=SEEDS, seeds_b=SEEDS).to_dict()


def test_different_seed_sets_are_not_paired() -> None:
    c = compare_samples(A, B, seeds_a=SEEDS, seeds_b=[1, 2, 3, 4, 6])
    assert not c.paired and c.p_paired_t is None and c.p_wilcoxon is None
    fewer = compare_samples(A, B[:4], seeds_a=SEEDS, seeds_b=SEEDS[:4])
    assert not fewer.paired
    duplicated = compare_samples([1.0, 2.0], [1.5, 2.5], seeds_a=[1, 1], seeds_b=[1, 1])
    assert not duplicated.paired


def test_wilcoxon_is_none_when_every_difference_is_zero() -> None:
    c = compare_samples(A, A, seeds_a=SEEDS, seeds_b=SEEDS)
    assert c.paired and c.p_wilcoxon is None
    assert c.diff == 0 and c.cohens_d == 0 and c.seeds_needed is None
    assert not c.significant


def test_seeds_needed_matches_published_power_tables() -> None:
    # G*Power / Cohen (1988), two-sided alpha .05, power .8; the normal approximation
    # 2 * ((z.975 + z.8) / d)^2 would say 393, 63 and 25.
    assert seeds_for_power(0.2) == 394
    assert seeds_for_power(0.5) == 64
    assert seeds_for_power(0.8) == 26
    assert seeds_for_power(-0.5) == 64
    assert math.ceil(2 * ((Z975 + Z80) / 0.5) ** 2) == 63
    assert seeds_for_power(0) is None
    assert seeds_for_power(math.inf) is None and seeds_for_power(math.nan) is None
    assert seeds_for_power(10.0) == 2  # the smallest sample a t-test takes


def test_seeds_needed_for_the_fixed_data_is_the_first_n_with_80_percent_power() -> None:
    c = compare_samples(A, B)
    n = c.seeds_needed
    assert n is not None
    assert _power(n - 1, c.cohens_d) < 0.8 <= _power(n, c.cohens_d)
    assert n == 5


def test_tiny_effects_use_the_corrected_normal_approximation() -> None:
    d = 0.005
    normal = 2 * ((Z975 + Z80) / d) ** 2
    assert normal > EXACT_POWER_LIMIT
    assert seeds_for_power(d) == math.ceil(normal + Z975**2 / 4)
    # At the limit the exact search and the corrected approximation agree.
    assert seeds_for_power(0.02) == math.ceil(2 * ((Z975 + Z80) / 0.02) ** 2 + Z975**2 / 4)


def test_sentence_when_b_is_better() -> None:
    c = compare_samples(A, B, seeds_a=SEEDS, seeds_b=SEEDS, metric="val_auc")
    assert c.significant
    lo, hi = c.ci95
    assert c.sentence == (
        f"B beats A by 0.022 val_auc (95% CI {lo:.3g} to {hi:.3g}, p = 0.0095, 5 seeds each)."
    )
    assert (f"{lo:.3g}", f"{hi:.3g}") == ("0.012", "0.034")


def test_sentence_when_a_is_better_reports_a_positive_margin() -> None:
    c = compare_samples(B, A, metric="val_auc")
    lo, hi = c.ci95
    assert c.diff < 0 and hi < 0
    assert c.sentence == (
        f"A beats B by 0.022 val_auc (95% CI {-hi:.3g} to {-lo:.3g}, p = 0.0095, 5 seeds each)."
    )


def test_sentence_for_a_lower_is_better_metric() -> None:
    # B's loss is lower: that is B winning.
    c = compare_samples(B, A, metric="val_loss", higher_is_better=False)
    lo, hi = c.ci95
    assert c.sentence == (
        f"B beats A by 0.022 val_loss (lower is better; 95% CI {-hi:.3g} to {-lo:.3g}, "
        "p = 0.0095, 5 seeds each)."
    )


def test_sentence_within_seed_noise() -> None:
    b = [0.92, 0.90, 0.93, 0.91, 0.94, 0.92]
    c = compare_samples(A, b, metric="val_auc")
    assert not c.significant
    assert c.p_welch == pytest.approx(0.616, abs=1e-3)
    lo, hi = c.ci95
    assert lo < 0 < hi
    assert c.sentence == (
        f"The difference in val_auc is within seed noise (p = 0.62, B - A = {c.diff:.3g}, "
        f"95% CI {lo:.3g} to {hi:.3g}, 5 seeds for A, 6 for B)."
    )


def test_sentence_when_welch_and_the_bootstrap_disagree() -> None:
    c = replace(
        compare_samples(A, B, metric="val_auc"),
        p_welch=0.03, ci95=(-0.001, 0.05), significant=False,
    )
    assert comparison_sentence(c).startswith(
        "The difference in val_auc is not clearly beyond seed noise: Welch's test gives "
        "p = 0.03 but the bootstrap CI includes 0 (B - A = 0.022, 95% CI -0.001 to 0.05,"
    )


def test_identical_constant_samples_have_nothing_to_test() -> None:
    c = compare_samples([0.9, 0.9, 0.9], [0.9, 0.9, 0.9], metric="val_auc")
    assert c.sentence == (
        "A and B gave the same val_auc, 0.9, for every seed (3 seeds each): "
        "there is no difference to test."
    )
    out = c.to_dict()
    assert out["p_welch"] is None and out["significant"] is False
    json.dumps(out, allow_nan=False)


def test_to_dict_is_json_ready_without_nan() -> None:
    c = compare_samples([0.9, 0.9], [1.0, 1.0], seeds_a=[1, 2], seeds_b=[1, 2], metric="acc")
    out = c.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["cohens_d"] is None  # no spread at all: d is infinite
    with warnings.catch_warnings():  # scipy warns about the zero spread of the differences
        warnings.simplefilter("ignore", RuntimeWarning)
        assert out["p_paired_t"] == stats.ttest_rel([1.0, 1.0], [0.9, 0.9]).pvalue
    assert out["ci95"] == [pytest.approx(0.1), pytest.approx(0.1)]
    full = compare_samples(A, B, seeds_a=SEEDS, seeds_b=SEEDS).to_dict()
    assert set(full) >= {
        "n_a", "n_b", "mean_a", "mean_b", "diff", "ci95", "p_welch", "p_mannwhitney",
        "cohens_d", "paired", "p_paired_t", "p_wilcoxon", "seeds_needed", "significant",
        "sentence",
    }
    assert json.loads(json.dumps(full, allow_nan=False))["ci95"] == list(
        compare_samples(A, B).ci95
    )


def test_mean_does_not_depend_on_seed_order() -> None:
    values = [0.1, 0.2, 0.3, 0.7, 0.11]
    c = compare_samples(values, values[::-1], metric="m")
    assert c.diff == 0 and c.cohens_d == 0
    assert "B - A = 0," in c.sentence


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.01, "p = 0.01"),
        (0.42, "p = 0.42"),
        (0.123, "p = 0.12"),
        (0.0095, "p = 0.0095"),
        (0.001, "p = 0.001"),
        (0.00099, "p < 0.001"),
        (1e-9, "p < 0.001"),
        (0.05, "p = 0.05"),
        (0.0499, "p = 0.0499"),  # not rounded up to the threshold
        (0.0504, "p = 0.0504"),
        (1.0, "p = 1"),
    ],
)
def test_p_formatting(p: float, text: str) -> None:
    assert format_p(p) == text


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([0.9], B, {}, "at least 2 values"),
        (A, [], {}, "at least 2 values"),
        (A, [0.9, math.nan], {}, "non-finite"),
        (A, [0.9, math.inf], {}, "non-finite"),
        (A, B, {"seeds_a": [1, 2], "seeds_b": SEEDS}, "seeds_a has 2 seeds for 5 values"),
        (A, B, {"bootstrap": 0}, "at least 1 resample"),
    ],
)
def test_invalid_samples_are_refused(
    a: list[float], b: list[float], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compare_samples(a, b, **kwargs)  # type: ignore[arg-type]

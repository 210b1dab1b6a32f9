"""curve_quantiles: per-step quantiles across runs, steps some runs have not logged left out."""

from __future__ import annotations

import math

import numpy as np

from seedlab.analysis.quantiles import curve_quantiles
from seedlab.analysis.spread import as_arrays


def test_quantiles_per_step_match_numpy_on_the_runs_that_logged_the_step() -> None:
    curves = [as_arrays([(1, float(v)), (2, float(v) * 2)]) for v in range(1, 101)]
    curves.append(as_arrays([(1, 1000.0)]))  # logged only step 1 so far
    result = curve_quantiles(curves, (0.05, 0.5, 0.95))
    assert result.steps == [1, 2]
    assert result.counts == [101, 100]
    step1 = np.array([*range(1, 101), 1000], dtype=np.float64)
    step2 = np.arange(1, 101, dtype=np.float64) * 2
    for q in (0.05, 0.5, 0.95):
        assert result.quantiles[q][0] == np.quantile(step1, q)
        assert result.quantiles[q][1] == np.quantile(step2, q)


def test_non_finite_values_are_left_out_and_empty_input_gives_no_steps() -> None:
    result = curve_quantiles([as_arrays([(1, math.nan)]), as_arrays([(1, 2.0)])], (0.5,))
    assert result.counts == [1]
    assert result.quantiles[0.5][0] == 2.0
    assert curve_quantiles([]).steps == []


def _per_quantile(curves: list, quantiles: tuple[float, ...]) -> dict[float, np.ndarray]:
    """The former implementation: np.nanquantile once per quantile over every logged step."""
    steps = np.unique(np.concatenate([c[0] for c in curves]))
    grid = np.full((len(curves), len(steps)), np.nan)
    for row, (run_steps, values) in enumerate(curves):
        grid[row, np.searchsorted(steps, run_steps)] = values
    grid[~np.isfinite(grid)] = np.nan
    logged = np.sum(~np.isnan(grid), axis=0) > 0
    out = {}
    with np.errstate(all="ignore"):
        for q in quantiles:
            column = np.full(len(steps), np.nan)
            column[logged] = np.nanquantile(grid[:, logged], q, axis=0)
            out[q] = column
    return out


def test_all_quantiles_in_one_pass_are_bit_identical_to_one_call_per_quantile() -> None:
    rng = np.random.default_rng(23)
    quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)
    curves = []
    for run in range(100):
        # Most runs logged all 1,000 epochs; some stopped early, one logged odd epochs only.
        last = 1000 if run % 7 else int(rng.integers(1, 1000))
        steps = np.arange(1, last + 1, 2 if run == 3 else 1, dtype=np.int64)
        values = rng.normal(0.5, 0.1, size=len(steps)) * 10.0 ** rng.integers(-3, 3)
        values[rng.random(len(steps)) < 0.01] = np.nan
        values[rng.random(len(steps)) < 0.002] = np.inf
        curves.append((steps, values))
    result = curve_quantiles(curves, quantiles)
    expected = _per_quantile(curves, quantiles)
    partial = [c for c in result.counts if 0 < c < 100]
    assert partial and any(c == 100 for c in result.counts), "both kinds of step take part"
    for q in quantiles:
        got = np.asarray(result.quantiles[q], dtype=np.float64)
        assert got.view(np.int64).tolist() == expected[q].view(np.int64).tolist(), q

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

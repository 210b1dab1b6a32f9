"""Quantiles of many runs' curves step by step, for the quantile-band chart of large jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seedlab.analysis.spread import CurveArrays

# Median, the inner (25-75%) and the outer (5-95%) band.
BAND_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class CurveQuantiles:
    """At each step logged by any run: how many runs logged it and the quantiles of their values."""

    steps: list[int]
    counts: list[int]
    quantiles: dict[float, FloatArray]


def curve_quantiles(
    curves: Sequence[CurveArrays], quantiles: Sequence[float] = BAND_QUANTILES
) -> CurveQuantiles:
    """Quantiles (linear interpolation) across runs at every step; non-finite values left out."""
    curves = [c for c in curves if len(c[0])]
    if not curves:
        return CurveQuantiles([], [], {q: np.array([], dtype=np.float64) for q in quantiles})
    steps = np.unique(np.concatenate([c[0] for c in curves]))
    # One row per run, NaN where a run has not logged that step (yet).
    grid = np.full((len(curves), len(steps)), np.nan, dtype=np.float64)
    for row, (run_steps, values) in enumerate(curves):
        grid[row, np.searchsorted(steps, run_steps)] = values
    grid[~np.isfinite(grid)] = np.nan
    counts = np.sum(~np.isnan(grid), axis=0)
    out: dict[float, FloatArray] = {}
    with np.errstate(all="ignore"):
        for q in quantiles:
            column = np.full(len(steps), np.nan, dtype=np.float64)
            logged = counts > 0
            if bool(logged.any()):
                column[logged] = np.nanquantile(grid[:, logged], q, axis=0)
            out[q] = column
    return CurveQuantiles([int(s) for s in steps], [int(c) for c in counts], out)

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
    table = np.full((len(quantiles), len(steps)), np.nan, dtype=np.float64)
    qs = np.asarray(quantiles, dtype=np.float64)
    # Steps every run logged (the usual case): np.quantile sorts all columns in one call.
    # np.nanquantile loops over columns in Python (73% of a 100-run overlay when called per
    # quantile), so only steps some runs have not logged go through it, all quantiles at once;
    # both interpolate the same way, so the values are the same to the bit.
    full = counts == len(curves)
    partial = (counts > 0) & ~full
    with np.errstate(all="ignore"):
        if bool(full.any()):
            table[:, full] = np.quantile(grid[:, full], qs, axis=0)
        if bool(partial.any()):
            table[:, partial] = np.nanquantile(grid[:, partial], qs, axis=0)
    out: dict[float, FloatArray] = {q: table[i] for i, q in enumerate(quantiles)}
    return CurveQuantiles([int(s) for s in steps], [int(c) for c in counts], out)

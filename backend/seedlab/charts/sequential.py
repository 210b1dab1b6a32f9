"""The 95% CI half-width of a sequential job's metric against its number of seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from seedlab.charts.overlay import PALETTE

TARGET_COLOUR = "#cf222e"


def halfwidth_figure(
    rounds: Sequence[tuple[int, float | None]], *, target: float, metric: str
) -> dict[str, Any]:
    """A line of each finished round's half-width (x: seeds so far) and the target as a
    horizontal dashed line."""
    done = [(n, h) for n, h in rounds if h is not None and math.isfinite(h)]
    xs = [n for n, _ in done]
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": f"{metric} 95% CI half-width",
        "x": xs,
        "y": [h for _, h in done],
        "line": {"color": PALETTE[0], "width": 2},
        "marker": {"size": 8},
        "hovertemplate": "%{x} seeds: half-width %{y:.4g}<extra></extra>",
    }
    # The target spans the seeds shown, or the first round's seeds before one has ended.
    all_seeds = [n for n, _ in rounds] or [0]
    lo, hi = min(all_seeds), max(all_seeds)
    target_trace = {
        "type": "scatter",
        "mode": "lines",
        "name": f"target {target:.4g}",
        "x": [lo, hi] if hi > lo else [lo - 0.5, lo + 0.5],
        "y": [target, target],
        "line": {"color": TARGET_COLOUR, "width": 1.5, "dash": "dash"},
        "hovertemplate": f"target {target:.4g}<extra></extra>",
    }
    return {
        "data": [trace, target_trace],
        "layout": {
            "margin": {"l": 60, "r": 20, "t": 20, "b": 45},
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.25},
            "xaxis": {"title": {"text": "seeds"}, "dtick": 1 if hi - lo <= 20 else None},
            "yaxis": {"title": {"text": "95% CI half-width"}, "rangemode": "tozero",
                      "tickformat": ".3~g"},
        },
    }

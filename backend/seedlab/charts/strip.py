"""Strip plot of each final metric across seeds, with the mean and its 95% CI, for the job page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seedlab.charts.overlay import PALETTE

GAP = 0.06  # horizontal space between two metrics' panels, as a fraction of the width


@dataclass(frozen=True)
class StripSample:
    """One final metric: a value per seed (with its run) and the report's mean and CI."""

    metric: str
    values: Sequence[float]
    seeds: Sequence[int]
    run_ids: Sequence[int]
    mean: float | None
    ci95: Sequence[float] | None


def _axis(name: str, index: int) -> str:
    return name if index == 0 else f"{name}{index + 1}"


def strip_figure(samples: Sequence[StripSample]) -> dict[str, Any]:
    """A panel per metric (own y scale): every seed a jittered point, the box, mean ± 95% CI."""
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "showlegend": False,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
        "hovermode": "closest",
    }
    width = 1.0 / max(len(samples), 1)
    for i, (sample, colour) in enumerate(zip(samples, PALETTE * 10, strict=False)):
        x, y = _axis("x", i), _axis("y", i)
        finite = [
            (v, s, r)
            for v, s, r in zip(sample.values, sample.seeds, sample.run_ids, strict=True)
            if math.isfinite(v)
        ]
        traces.append(
            {
                "type": "box",
                "name": sample.metric,
                "x": [sample.metric] * len(finite),
                "y": [v for v, _, _ in finite],
                "text": [f"seed {s} · run {r}" for _, s, r in finite],
                "boxpoints": "all",
                "jitter": 0.6,
                "pointpos": 0,
                "marker": {"color": colour, "size": 6, "opacity": 0.7},
                "line": {"color": colour, "width": 1},
                "fillcolor": "rgba(0,0,0,0)",
                "hoveron": "points",
                "hovertemplate": "%{text}<br>" + sample.metric + ": %{y:.6g}<extra></extra>",
                "xaxis": x,
                "yaxis": y,
            }
        )
        if sample.mean is not None and math.isfinite(sample.mean):
            mean_trace: dict[str, Any] = {
                "type": "scatter",
                "mode": "markers",
                "name": f"mean of {sample.metric}",
                "x": [sample.metric],
                "y": [sample.mean],
                "marker": {"color": "#1f2328", "symbol": "diamond-wide", "size": 14},
                "xaxis": x,
                "yaxis": y,
                "hovertemplate": f"mean {sample.mean:.6g}<extra></extra>",
            }
            if sample.ci95 is not None:
                lo, hi = sample.ci95
                mean_trace["error_y"] = {
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - sample.mean],
                    "arrayminus": [sample.mean - lo],
                    "color": "#1f2328",
                    "thickness": 2,
                    "width": 12,
                }
                mean_trace["hovertemplate"] = (
                    f"mean {sample.mean:.6g}<br>95% CI [{lo:.6g}, {hi:.6g}]<extra></extra>"
                )
            traces.append(mean_trace)
        left = i * width + (GAP / 2 if i else 0)
        right = (i + 1) * width - (GAP / 2 if i < len(samples) - 1 else 0)
        layout[_axis("xaxis", i)] = {"domain": [left, right], "anchor": y, "fixedrange": True}
        layout[_axis("yaxis", i)] = {"anchor": x, "zeroline": False, "tickformat": ".4~g"}
    return {"data": traces, "layout": layout}

"""Plotly figure of two jobs' per-seed values, for the compare page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seedlab.charts.overlay import PALETTE

# (name, values, seeds, run ids) of one job.
Sample = tuple[str, Sequence[float], Sequence[int], Sequence[int]]


def distribution_figure(samples: Sequence[Sample], *, metric: str) -> dict[str, Any]:
    """A box plot per job with every seed drawn as a point, in the order given."""
    traces = []
    for (name, values, seeds, run_ids), colour in zip(samples, PALETTE, strict=False):
        traces.append(
            {
                "type": "box",
                "name": name,
                "y": list(values),
                "text": [f"seed {s} · run {r}" for s, r in zip(seeds, run_ids, strict=True)],
                "boxpoints": "all",
                "jitter": 0.5,
                "pointpos": 0,
                "boxmean": True,
                "marker": {"color": colour, "size": 8, "opacity": 0.8},
                "line": {"color": colour},
                "hoveron": "points",
                "hovertemplate": "%{text}<br>%{y:.6g}<extra>" + name + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": {
            "yaxis": {"title": {"text": metric}, "zeroline": False},
            "showlegend": False,
            "margin": {"l": 70, "r": 20, "t": 20, "b": 40},
        },
    }

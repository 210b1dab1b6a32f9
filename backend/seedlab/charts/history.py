"""An experiment's history: each job's mean of one metric with its 95% CI band, for its page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

VERDICT_COLOURS = {
    "bitwise": "#1a7f37",
    "within_tolerance": "#0f7b7b",
    "nondeterministic": "#cf222e",
    "not_checked": "#6e7781",
}
CI_FILL = "rgba(9,105,218,0.15)"


@dataclass(frozen=True)
class HistoryPoint:
    """One job of the experiment: its mean of the metric across seeds and that mean's CI."""

    job_id: int
    label: str | None
    verdict: str
    n: int
    mean: float
    ci95: Sequence[float] | None


def history_figure(points: Sequence[HistoryPoint], *, metric: str) -> dict[str, Any]:
    """Jobs left to right (oldest first): the CI band, the mean line, markers by verdict."""
    xs = [f"#{p.job_id}" for p in points]
    with_ci = [p for p in points if p.ci95 is not None]
    traces: list[dict[str, Any]] = []
    if with_ci:
        ci_x = [f"#{p.job_id}" for p in with_ci]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "95% CI upper",
                "x": ci_x,
                "y": [p.ci95[1] for p in with_ci if p.ci95 is not None],
                "line": {"width": 0, "color": CI_FILL},
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "95% CI of the mean",
                "x": ci_x,
                "y": [p.ci95[0] for p in with_ci if p.ci95 is not None],
                "fill": "tonexty",
                "fillcolor": CI_FILL,
                "line": {"width": 0, "color": CI_FILL},
                "hoverinfo": "skip",
            }
        )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"mean {metric} across seeds",
            "x": xs,
            "y": [p.mean for p in points],
            "line": {"color": "#57606a", "width": 1},
            "marker": {
                "size": 11,
                "color": [VERDICT_COLOURS.get(p.verdict, "#6e7781") for p in points],
                "line": {"color": "#ffffff", "width": 1},
            },
            # Bars as well as the band: a band between jobs says nothing for a lone job.
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [p.ci95[1] - p.mean if p.ci95 else 0 for p in points],
                "arrayminus": [p.mean - p.ci95[0] if p.ci95 else 0 for p in points],
                "color": "#57606a",
                "thickness": 1.5,
                "width": 6,
            },
            "text": [
                f"job #{p.job_id}{' · ' + p.label if p.label else ''} · {p.verdict} · {p.n} seeds"
                for p in points
            ],
            "hovertemplate": "%{text}<br>mean %{y:.6g}<extra></extra>",
        }
    )
    return {
        "data": traces,
        "layout": {
            "xaxis": {"title": {"text": "job (oldest first)"}, "type": "category"},
            "yaxis": {"title": {"text": metric}, "zeroline": False},
            "margin": {"l": 70, "r": 20, "t": 30, "b": 50},
            "legend": {"orientation": "h", "y": -0.25},
            "hovermode": "closest",
        },
    }

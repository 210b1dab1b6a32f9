"""Plain data -> Plotly figure dicts, shared by pages and the JSON API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from seedlab.analysis.spread import band
from seedlab.analysis.types import RunData

# Plotly's default qualitative palette: one colour per seed.
PALETTE = (
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A",
    "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
DEFAULT_METRIC_ORDER = ("val_auc", "val_accuracy", "val_loss", "loss")
BAND = "band"


def available_metrics(runs: Iterable[RunData]) -> list[str]:
    """Every metric with a curve in any run, sorted."""
    return sorted({key for run in runs for key, points in run.curves.items() if points})


def default_metric(metrics: Sequence[str]) -> str | None:
    """The metric a chart shows first: val_auc, val_accuracy, val_loss, loss, else the first."""
    for name in DEFAULT_METRIC_ORDER:
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def overlay_figure(runs: Sequence[RunData], metric: str, *, show_band: bool = True) -> dict[str, Any]:
    """One line per run (colour = seed, dash = repeat) plus a toggleable mean ± std band."""
    seeds = sorted({run.seed for run in runs})
    colour = {seed: PALETTE[i % len(PALETTE)] for i, seed in enumerate(seeds)}
    traces: list[dict[str, Any]] = []
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id)):
        points = run.curves.get(metric, [])
        if not points:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if len(points) <= 50 else "lines",
                "name": f"seed {run.seed} · repeat {run.repeat + 1} (run {run.run_id})",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "line": {"color": colour[run.seed], "dash": DASHES[run.repeat % len(DASHES)]},
                "legendgroup": f"seed-{run.seed}",
                "customdata": [[run.seed, run.repeat + 1, run.run_id]] * len(points),
                "hovertemplate": "seed %{customdata[0]} · repeat %{customdata[1]} · run "
                "%{customdata[2]}<br>epoch %{x}: %{y:.6g}<extra></extra>",
            }
        )
    stats = [(step, mean, std) for step, mean, std in band(runs, metric) if std is not None]
    if stats:
        x = [s[0] for s in stats]
        upper = [s[1] + s[2] for s in stats]  # type: ignore[operator]
        lower = [s[1] - s[2] for s in stats]  # type: ignore[operator]
        common = {"type": "scatter", "legendgroup": BAND, "meta": BAND, "visible": show_band}
        traces.append(
            {**common, "name": "mean + std", "x": x, "y": upper, "mode": "lines",
             "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"}
        )
        traces.append(
            {**common, "name": "mean ± std across seeds", "x": x, "y": lower, "mode": "lines",
             "line": {"width": 0}, "fill": "tonexty", "fillcolor": _rgba("#444444", 0.15),
             "hoverinfo": "skip"}
        )
        traces.append(
            {**common, "name": "mean across seeds", "x": x, "y": [s[1] for s in stats],
             "mode": "lines", "line": {"color": "#222222", "dash": "dash", "width": 2},
             "showlegend": False}
        )
    return {
        "data": traces,
        "layout": {
            "xaxis": {"title": {"text": "epoch"}},
            "yaxis": {"title": {"text": metric}},
            "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
            "legend": {"orientation": "v"},
            "hovermode": "closest",
        },
    }

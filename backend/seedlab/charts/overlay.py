"""Plain data -> Plotly figure dicts, shared by pages and the JSON API."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from plotly.colors import qualitative

from seedlab.analysis.downsample import downsample
from seedlab.analysis.spread import band
from seedlab.analysis.types import RunData

# Plotly's default qualitative palette, cycled by seed order: one colour per seed.
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
# Repeats of one seed share its colour, so the dash tells them apart.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
DEFAULT_METRIC_ORDER = ("val_auc", "val_accuracy", "val_loss", "loss")
# The page finds the band traces by this meta (and legendgroup) to toggle them.
BAND = "band"
BAND_FILL = "rgba(68,68,68,0.15)"
BAND_LINE = "#222222"
# Markers help on short curves but clutter long ones.
MARKER_LIMIT = 50


def available_metrics(runs: Iterable[RunData]) -> list[str]:
    """Every metric with a curve in any run, sorted."""
    return sorted({key for run in runs for key, points in run.curves.items() if points})


def default_metric(metrics: Sequence[str]) -> str | None:
    """The metric a chart shows first: val_auc, val_accuracy, val_loss, loss, else the first."""
    for name in DEFAULT_METRIC_ORDER:
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _y(value: float) -> float | None:
    # JSON has no NaN or infinity; null leaves a gap in the Plotly line.
    number = float(value)
    return number if math.isfinite(number) else None


def _run_trace(
    run: RunData, points: Sequence[tuple[int, float]], colour: str, max_points: int | None
) -> dict[str, Any]:
    repeat = run.repeat + 1  # the pages count repeats from 1
    if max_points is not None:
        points = downsample(points, max_points)
    return {
        "type": "scatter",
        "mode": "lines+markers" if len(points) <= MARKER_LIMIT else "lines",
        "name": f"seed {run.seed} · repeat {repeat} (run {run.run_id})",
        "x": [int(step) for step, _ in points],
        "y": [_y(value) for _, value in points],
        "line": {"color": colour, "dash": DASHES[run.repeat % len(DASHES)]},
        "marker": {"color": colour},
        "legendgroup": f"seed-{run.seed}",
        # Constant per trace, so written into the template instead of per-point customdata.
        "hovertemplate": f"seed {run.seed} · repeat {repeat} · run {run.run_id}"
        "<br>epoch %{x}: %{y:.6g}<extra></extra>",
    }


def _band_traces(runs: Sequence[RunData], metric: str, visible: bool) -> list[dict[str, Any]]:
    """Upper bound (invisible line), lower bound filled up to it, and the dashed mean line."""
    rows = [(step, mean, std) for step, mean, std in band(runs, metric) if std is not None]
    if not rows:
        return []  # a band needs at least two seeds
    x = [step for step, _, _ in rows]
    common: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "legendgroup": BAND,
        "meta": BAND,
        "visible": visible,
    }
    upper = {
        **common,
        "name": "mean + std",
        "y": [_y(mean + std) for _, mean, std in rows],
        "line": {"width": 0, "color": BAND_FILL},
        "showlegend": False,
        "hoverinfo": "skip",
    }
    lower = {
        **common,
        "name": "mean ± std across seeds",
        "y": [_y(mean - std) for _, mean, std in rows],
        "line": {"width": 0, "color": BAND_FILL},
        "fill": "tonexty",  # fills up to the upper trace just before it
        "fillcolor": BAND_FILL,
        "hoverinfo": "skip",
    }
    mean_line = {
        **common,
        "name": "mean across seeds",
        "y": [_y(mean) for _, mean, _ in rows],
        "line": {"color": BAND_LINE, "dash": "dash", "width": 2},
        "showlegend": False,
        "hovertemplate": "mean across seeds<br>epoch %{x}: %{y:.6g}<extra></extra>",
    }
    return [upper, lower, mean_line]


def overlay_figure(
    runs: Sequence[RunData], metric: str, *, show_band: bool = True, max_points: int | None = None
) -> dict[str, Any]:
    """One line per run (colour = seed, dash = repeat) plus a toggleable mean ± std band.

    With max_points, each run's drawn line is downsampled; the band always uses full curves.
    """
    # Colours follow all seeds of the job, so a seed keeps its colour whatever the metric.
    seeds = sorted({run.seed for run in runs})
    colour = {seed: PALETTE[i % len(PALETTE)] for i, seed in enumerate(seeds)}
    traces = [
        _run_trace(run, run.curves[metric], colour[run.seed], max_points)
        for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id))
        if run.curves.get(metric)
    ]
    traces.extend(_band_traces(runs, metric, show_band))
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

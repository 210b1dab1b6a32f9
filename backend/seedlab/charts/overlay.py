"""Plain data -> Plotly figure dicts, shared by pages and the JSON API."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from plotly.colors import qualitative

from seedlab.analysis.downsample import downsample_indices
from seedlab.analysis.quantiles import curve_quantiles
from seedlab.analysis.spread import CurveArrays, band_arrays, one_run_per_seed
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
# Above this many runs the chart draws quantile bands with the runs faint behind them: the
# palette has 10 colours and 6 dashes, so past ~30 lines seeds can no longer be told apart, the
# legend no longer fits beside the plot, and one trace per run makes Plotly slow to draw.
QUANTILE_RUNS = 30
FAINT = "rgba(110,119,129,0.18)"
QUANTILE_FILLS = {(0.05, 0.95): "rgba(9,105,218,0.12)", (0.25, 0.75): "rgba(9,105,218,0.28)"}


def default_metric(metrics: Sequence[str]) -> str | None:
    """The metric a chart shows first: val_auc, val_accuracy, val_loss, loss, else the first."""
    for name in DEFAULT_METRIC_ORDER:
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _y(values: np.ndarray[Any, np.dtype[np.float64]]) -> list[float | None]:
    # JSON has no NaN or infinity; null leaves a gap in the Plotly line.
    out: list[float | None] = values.tolist()
    if not bool(np.isfinite(values).all()):
        out = [value if math.isfinite(value) else None for value in values.tolist()]
    return out


def _run_trace(
    run: RunData, curve: CurveArrays, colour: str, max_points: int | None
) -> dict[str, Any]:
    repeat = run.repeat  # counted from 0, as in the API and the CLI
    steps, values = curve
    if max_points is not None:
        kept = downsample_indices(values, max_points)
        steps, values = steps[kept], values[kept]
    return {
        "type": "scatter",
        "mode": "lines+markers" if len(steps) <= MARKER_LIMIT else "lines",
        "name": f"seed {run.seed} · repeat {repeat} (run {run.run_id})",
        "x": steps.tolist(),
        "y": _y(values),
        "line": {"color": colour, "dash": DASHES[run.repeat % len(DASHES)]},
        "marker": {"color": colour},
        "legendgroup": f"seed-{run.seed}",
        # Constant per trace, so written into the template instead of per-point customdata.
        "hovertemplate": f"seed {run.seed} · repeat {repeat} · run {run.run_id}"
        "<br>epoch %{x}: %{y:.6g}<extra></extra>",
    }


def _band_traces(
    runs: Sequence[RunData], curves: Mapping[int, CurveArrays], visible: bool
) -> list[dict[str, Any]]:
    """Upper bound (invisible line), lower bound filled up to it, and the dashed mean line."""
    chosen = [curves[run.run_id] for run in one_run_per_seed(runs) if run.run_id in curves]
    steps, mean_list, std_list = band_arrays(chosen)
    if not steps or std_list is None:
        return []  # a band needs at least two seeds
    means, stds = np.array(mean_list), np.array(std_list)
    common: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "x": steps,
        "legendgroup": BAND,
        "meta": BAND,
        "visible": visible,
    }
    upper = {
        **common,
        "name": "mean + std",
        "y": _y(means + stds),
        "line": {"width": 0, "color": BAND_FILL},
        "showlegend": False,
        "hoverinfo": "skip",
    }
    lower = {
        **common,
        "name": "mean ± std across seeds",
        "y": _y(means - stds),
        "line": {"width": 0, "color": BAND_FILL},
        "fill": "tonexty",  # fills up to the upper trace just before it
        "fillcolor": BAND_FILL,
        "hoverinfo": "skip",
    }
    mean_line = {
        **common,
        "name": "mean across seeds",
        "y": _y(means),
        "line": {"color": BAND_LINE, "dash": "dash", "width": 2},
        "showlegend": False,
        "hovertemplate": "mean across seeds<br>epoch %{x}: %{y:.6g}<extra></extra>",
    }
    return [upper, lower, mean_line]


def overlay_figure(
    runs: Sequence[RunData],
    curves: Mapping[int, CurveArrays],
    metric: str,
    *,
    show_band: bool = True,
    max_points: int | None = None,
) -> dict[str, Any]:
    """One line per run (colour = seed, dash = repeat) plus a toggleable mean ± std band.

    Curves are each run's (steps, values) arrays of the metric, keyed by run id. With
    max_points, each run's drawn line is downsampled; the band always uses full curves.
    """
    curves = {run_id: curve for run_id, curve in curves.items() if len(curve[0])}
    if sum(1 for run in runs if run.run_id in curves) > QUANTILE_RUNS:
        return quantile_figure(runs, curves, metric, show_band=show_band, max_points=max_points)
    # Colours follow all seeds of the job, so a seed keeps its colour whatever the metric.
    seeds = sorted({run.seed for run in runs})
    colour = {seed: PALETTE[i % len(PALETTE)] for i, seed in enumerate(seeds)}
    traces = [
        _run_trace(run, curves[run.run_id], colour[run.seed], max_points)
        for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id))
        if run.run_id in curves
    ]
    traces.extend(_band_traces(runs, curves, show_band))
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


def _faint_runs(
    runs: Sequence[RunData], curves: Mapping[int, CurveArrays], max_points: int | None
) -> dict[str, Any]:
    """Every run's line in one faint trace (gaps between runs), each point naming its run."""
    xs: list[int | None] = []
    ys: list[float | None] = []
    names: list[str] = []
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id)):
        if run.run_id not in curves:
            continue
        steps, values = curves[run.run_id]
        if max_points is not None:
            kept = downsample_indices(values, max_points)
            steps, values = steps[kept], values[kept]
        name = f"seed {run.seed} · repeat {run.repeat} · run {run.run_id}"
        xs.extend([*steps.tolist(), None])
        ys.extend([*_y(values), None])
        names.extend([name] * len(steps) + [""])
    one_step = len({x for x in xs if x is not None}) <= 1
    return {
        "type": "scatter",
        "mode": "markers" if one_step else "lines",
        "name": f"each run ({sum(1 for r in runs if r.run_id in curves)})",
        "x": xs,
        "y": ys,
        "text": names,
        "line": {"color": FAINT, "width": 1},
        "marker": {"color": FAINT, "size": 5},
        "hovertemplate": "%{text}<br>epoch %{x}: %{y:.6g}<extra></extra>",
    }


def quantile_figure(
    runs: Sequence[RunData],
    curves: Mapping[int, CurveArrays],
    metric: str,
    *,
    show_band: bool = True,
    max_points: int | None = None,
) -> dict[str, Any]:
    """Many runs: the median, 25-75% and 5-95% bands across runs per step, each run faint.

    With one logged step (one epoch) a band has no width to draw, so the runs' values at that
    step are drawn as a box with every run a point instead.
    """
    present = {run.run_id: curves[run.run_id] for run in runs if run.run_id in curves}
    result = curve_quantiles(list(present.values()))
    layout = {
        "xaxis": {"title": {"text": "epoch"}},
        "yaxis": {"title": {"text": metric}},
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "closest",
    }
    if len(result.steps) == 1:
        step = result.steps[0]
        ordered = [
            r
            for r in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id))
            if r.run_id in present
        ]
        box = {
            "type": "box",
            "name": f"all {len(ordered)} runs at epoch {step}",
            "x": [step] * len(ordered),
            "y": _y(np.array([present[r.run_id][1][-1] for r in ordered], dtype=np.float64)),
            "text": [f"seed {r.seed} · repeat {r.repeat} · run {r.run_id}" for r in ordered],
            "boxpoints": "all",
            "jitter": 0.8,
            "pointpos": 0,
            "marker": {"size": 4, "opacity": 0.5, "color": BAND_LINE},
            "line": {"color": "#0969da"},
            "hoveron": "points",
            "hovertemplate": "%{text}<br>epoch %{x}: %{y:.6g}<extra></extra>",
        }
        return {
            "data": [box],
            "layout": {**layout, "xaxis": {"title": {"text": "epoch"}, "type": "category"}},
        }
    common: dict[str, Any] = {
        "type": "scatter",
        "x": result.steps,
        "legendgroup": BAND,
        "meta": BAND,
        "visible": show_band,
        "mode": "lines",
    }
    traces: list[dict[str, Any]] = [_faint_runs(runs, present, max_points)]
    for (low, high), fill in QUANTILE_FILLS.items():
        label = f"{round(low * 100)}-{round(high * 100)}% of runs"
        traces.append(
            {
                **common,
                "name": label,
                "y": _y(result.quantiles[high]),
                "showlegend": False,
                "line": {"width": 0, "color": fill},
                "hoverinfo": "skip",
            }
        )
        traces.append(
            {
                **common,
                "name": label,
                "y": _y(result.quantiles[low]),
                "fill": "tonexty",
                "fillcolor": fill,
                "line": {"width": 0, "color": fill},
                "hoverinfo": "skip",
            }
        )
    traces.append(
        {
            **common,
            "name": "median of runs",
            "y": _y(result.quantiles[0.5]),
            "line": {"color": BAND_LINE, "width": 2},
            "text": [f"{n} runs" for n in result.counts],
            "hovertemplate": "median of %{text}<br>epoch %{x}: %{y:.6g}<extra></extra>",
        }
    )
    return {"data": traces, "layout": layout}

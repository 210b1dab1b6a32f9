"""The strip plot of final metrics and the quantile-band overlay of many runs."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from seedlab.analysis.spread import as_arrays
from seedlab.charts import overlay
from seedlab.charts.strip import StripSample, strip_figure
from tests.factory import make_run


def test_strip_figure_has_a_panel_per_metric_with_points_naming_runs_and_the_ci() -> None:
    fig = strip_figure(
        [
            StripSample("val_auc", [0.9, 0.92], [1, 2], [11, 12], 0.91, [0.8, 1.02]),
            StripSample("loss", [0.3, float("nan")], [1, 2], [11, 12], 0.3, None),
        ]
    )
    go.Figure(fig)  # Plotly accepts every property
    boxes = [t for t in fig["data"] if t["type"] == "box"]
    assert [b["text"] for b in boxes] == [
        ["seed 1 · run 11", "seed 2 · run 12"],
        ["seed 1 · run 11"],
    ]
    assert boxes[1]["xaxis"] == "x2" and boxes[1]["yaxis"] == "y2"
    means = [t for t in fig["data"] if t["type"] == "scatter"]
    assert means[0]["y"] == [0.91]
    assert means[0]["error_y"]["array"][0] == 1.02 - 0.91
    assert means[0]["error_y"]["arrayminus"][0] == 0.91 - 0.8
    assert "error_y" not in means[1]  # no CI given, none drawn
    assert fig["layout"]["xaxis"]["domain"][1] < fig["layout"]["xaxis2"]["domain"][0]


def _many(n_runs: int, epochs: int) -> tuple[list, dict]:  # type: ignore[type-arg]
    runs = [make_run(i + 1, seed=i // 2, repeat=i % 2) for i in range(n_runs)]
    curves = {
        run.run_id: as_arrays([(e, float(run.seed) + e) for e in range(1, epochs + 1)])
        for run in runs
    }
    return runs, curves


def test_up_to_the_limit_every_run_has_its_own_legend_entry() -> None:
    runs, curves = _many(overlay.QUANTILE_RUNS, 3)
    fig = overlay.overlay_figure(runs, curves, "loss")
    assert sum(1 for t in fig["data"] if t.get("meta") != "band") == overlay.QUANTILE_RUNS


def test_many_runs_draw_quantile_bands_runs_faint_in_one_trace_and_a_short_legend() -> None:
    runs, curves = _many(100, 3)
    fig = overlay.overlay_figure(runs, curves, "loss")
    json.dumps(fig)
    go.Figure(fig)
    assert len(fig["data"]) == 6  # faint runs, two bands of two edges, the median
    faint = fig["data"][0]
    assert faint["line"]["color"] == overlay.FAINT
    assert "seed 0 · repeat 0 · run 1" in faint["text"]
    legend = [t["name"] for t in fig["data"] if t.get("showlegend", True)]
    assert legend == ["each run (100)", "5-95% of runs", "25-75% of runs", "median of runs"]
    median = fig["data"][-1]
    values = np.array([float(r.seed) + 1 for r in runs])
    assert median["y"][0] == float(np.quantile(values, 0.5))


def test_many_runs_of_one_epoch_are_a_box_of_every_run_not_a_column_of_lines() -> None:
    runs, curves = _many(1000, 1)
    fig = overlay.overlay_figure(runs, curves, "loss")
    assert [t["type"] for t in fig["data"]] == ["box"]
    assert len(fig["data"][0]["y"]) == 1000
    assert fig["data"][0]["text"][0] == "seed 0 · repeat 0 · run 1"


def test_history_figure_draws_each_jobs_mean_with_its_ci_as_band_and_bars() -> None:
    from seedlab.charts.history import HistoryPoint, history_figure

    fig = history_figure(
        [
            HistoryPoint(1, "before", "bitwise", 5, 0.9, [0.85, 0.95]),
            HistoryPoint(2, None, "nondeterministic", 1, 0.8, None),
            HistoryPoint(3, "after", "bitwise", 5, 0.7, [0.6, 0.8]),
        ],
        metric="val_auc",
    )
    go.Figure(fig)
    upper, lower, means = fig["data"]
    assert upper["x"] == lower["x"] == ["#1", "#3"]  # the band only where a CI exists
    assert upper["y"] == [0.95, 0.8] and lower["y"] == [0.85, 0.6]
    assert means["x"] == ["#1", "#2", "#3"] and means["y"] == [0.9, 0.8, 0.7]
    assert means["marker"]["color"] == ["#1a7f37", "#cf222e", "#1a7f37"]
    assert means["error_y"]["arrayminus"][1] == 0
    assert means["text"][0] == "job #1 · before · bitwise · 5 seeds"

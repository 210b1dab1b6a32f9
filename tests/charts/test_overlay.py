"""overlay_figure: one trace per run, colour by seed, dash by repeat, a toggleable seed band."""

from __future__ import annotations

import json
import math
from typing import Any

import plotly.graph_objects as go
import pytest
from plotly.colors import qualitative

from seedlab.analysis.spread import as_arrays
from seedlab.analysis.types import RunData
from seedlab.charts import overlay
from seedlab.charts.overlay import default_metric
from tests.factory import make_run


def _runs() -> list[RunData]:
    return [
        make_run(17, 42, 1, curves={"val_auc": [(1, 0.6), (2, 0.8)], "loss": [(1, 0.9)]}),
        make_run(16, 42, 0, curves={"val_auc": [(1, 0.6), (2, 0.8)]}),
        make_run(11, 7, 0, curves={"val_auc": [(1, 0.5), (2, 0.7)]}),
        make_run(12, 7, 1, curves={"val_auc": [(1, 0.5), (2, 0.7)]}),
        make_run(13, 7, 2, status="running", curves={"val_auc": [(1, 0.5)]}),
        make_run(20, 99, 0, status="queued"),  # no points: no trace
    ]


def overlay_figure(runs: list[RunData], metric: str, **options: Any) -> dict[str, Any]:
    """The figure of the runs' own curves of the metric, as the report's packed curves give it."""
    curves = {run.run_id: as_arrays(run.curves[metric]) for run in runs if run.curves.get(metric)}
    return overlay.overlay_figure(runs, curves, metric, **options)


def _run_traces(fig: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in fig["data"] if t.get("meta") != "band"]


def _band_traces(fig: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in fig["data"] if t.get("meta") == "band"]


def test_one_trace_per_run_with_points_plus_three_band_traces() -> None:
    fig = overlay_figure(_runs(), "val_auc")
    runs = _run_traces(fig)
    assert [t["name"] for t in runs] == [
        "seed 7 · repeat 0 (run 11)",
        "seed 7 · repeat 1 (run 12)",
        "seed 7 · repeat 2 (run 13)",
        "seed 42 · repeat 0 (run 16)",
        "seed 42 · repeat 1 (run 17)",
    ]
    assert len(_band_traces(fig)) == 3
    assert len(fig["data"]) == 8
    assert runs[4]["x"] == [1, 2] and runs[4]["y"] == [0.6, 0.8]


def test_colour_per_seed_and_dash_per_repeat() -> None:
    runs = _run_traces(overlay_figure(_runs(), "val_auc"))
    by_seed: dict[str, list[dict[str, Any]]] = {}
    for trace in runs:
        by_seed.setdefault(trace["legendgroup"], []).append(trace)
    assert set(by_seed) == {"seed-7", "seed-42"}
    # Seeds 7, 42, 99 in order take the first palette colours, whether or not they have points.
    palette = list(qualitative.Plotly)
    assert {t["line"]["color"] for t in by_seed["seed-7"]} == {palette[0]}
    assert {t["line"]["color"] for t in by_seed["seed-42"]} == {palette[1]}
    for traces in by_seed.values():
        dashes = [t["line"]["dash"] for t in traces]
        assert len(set(dashes)) == len(dashes)
    assert [t["line"]["dash"] for t in by_seed["seed-7"]] == ["solid", "dash", "dot"]


def test_seed_keeps_its_colour_across_metrics() -> None:
    runs = _runs()
    auc = {t["name"]: t["line"]["color"] for t in _run_traces(overlay_figure(runs, "val_auc"))}
    loss = {t["name"]: t["line"]["color"] for t in _run_traces(overlay_figure(runs, "loss"))}
    assert loss == {"seed 42 · repeat 1 (run 17)": auc["seed 42 · repeat 1 (run 17)"]}


def test_hover_data_carries_seed_repeat_and_run() -> None:
    trace = _run_traces(overlay_figure(_runs(), "val_auc"))[4]
    assert trace["hovertemplate"].startswith("seed 42 · repeat 1 · run 17<br>")


def test_max_points_downsamples_lines_but_not_the_band() -> None:
    long = [
        RunData(
            run_id=i,
            seed=s,
            repeat=0,
            status="succeeded",
            curves={"loss": [(e, 1.0 / e + s) for e in range(1, 1001)]},
        )
        for i, s in enumerate((1, 2, 3), start=1)
    ]
    figure = overlay_figure(long, "loss", max_points=200)
    assert all(len(t["x"]) <= 200 for t in _run_traces(figure))
    assert all(len(t["x"]) == 1000 for t in _band_traces(figure))


def test_band_is_mean_plus_minus_std_across_first_repeats() -> None:
    upper, lower, mean = _band_traces(overlay_figure(_runs(), "val_auc"))
    # Seeds 7 and 42, first repeats: epoch 1 (0.5, 0.6), epoch 2 (0.7, 0.8); std = 0.1 / sqrt(2).
    std = 0.1 / math.sqrt(2)
    assert mean["x"] == upper["x"] == lower["x"] == [1, 2]
    assert mean["y"] == pytest.approx([0.55, 0.75], rel=1e-12)
    assert upper["y"] == pytest.approx([0.55 + std, 0.75 + std], rel=1e-9)
    assert lower["y"] == pytest.approx([0.55 - std, 0.75 - std], rel=1e-9)
    assert lower["fill"] == "tonexty" and "rgba" in lower["fillcolor"]
    assert upper["line"]["width"] == 0 and "fill" not in upper
    assert mean["line"]["dash"] == "dash"
    assert all(t["legendgroup"] == "band" for t in (upper, lower, mean))


@pytest.mark.parametrize("show", [True, False])
def test_band_visibility_follows_the_flag(show: bool) -> None:
    fig = overlay_figure(_runs(), "val_auc", show_band=show)
    assert [t["visible"] for t in _band_traces(fig)] == [show] * 3
    assert all("visible" not in t for t in _run_traces(fig))


def test_no_band_with_a_single_seed() -> None:
    runs = [make_run(1, 1, 0, curves={"loss": [(1, 1.0)]}), make_run(2, 1, 1, curves={"loss": []})]
    fig = overlay_figure(runs, "loss")
    assert len(fig["data"]) == 1 and _band_traces(fig) == []


def test_figure_is_strict_json_and_valid_plotly() -> None:
    runs = [*_runs(), make_run(30, 5, 0, curves={"val_auc": [(1, math.nan), (2, math.inf)]})]
    fig = overlay_figure(runs, "val_auc")
    text = json.dumps(fig, allow_nan=False)
    assert json.loads(text) == fig
    nan_trace = next(t for t in fig["data"] if t["name"].startswith("seed 5 "))
    assert nan_trace["y"] == [None, None]
    assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"
    assert fig["layout"]["yaxis"]["title"]["text"] == "val_auc"
    go.Figure(fig)  # Plotly's own validation accepts every property


def test_empty_input_gives_an_empty_figure() -> None:
    fig = overlay_figure([], "loss")
    assert fig["data"] == []
    json.dumps(fig, allow_nan=False)


def test_default_metric() -> None:
    assert default_metric(["loss", "val_accuracy", "val_auc"]) == "val_auc"
    assert default_metric(["loss", "val_accuracy"]) == "val_accuracy"
    assert default_metric(["loss", "val_loss"]) == "val_loss"
    assert default_metric(["acc", "loss"]) == "loss"
    assert default_metric(["acc", "mse"]) == "acc"
    assert default_metric([]) is None

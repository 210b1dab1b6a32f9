"""The divergence timeline heatmap."""

from __future__ import annotations

from seedlab.analysis.divergence import TraceData, locate_divergence
from seedlab.charts.divergence import INPUT_ROW, divergence_figure


def _trace(run_id: int, first_input: str, steps: bool = True) -> TraceData:
    return TraceData(
        run_id=run_id,
        layers=["dense", "out"],
        initial=["a", "b"],
        epochs=[["c", "d" if first_input == "x" else "other"]],
        steps=[[1, 1, first_input, ["c", "d" if first_input == "x" else "other"]]]
        if steps
        else None,
    )


def test_traced_heatmap_has_an_input_row_and_a_step_zero_column() -> None:
    divergence = locate_divergence(_trace(1, "x"), _trace(2, "y")).to_dict()
    figure = divergence_figure(divergence)
    assert figure is not None
    heatmap = figure["data"][0]
    assert heatmap["y"] == [INPUT_ROW, "dense", "out"]
    assert heatmap["x"] == [0, 1]
    assert heatmap["z"] == [[None, 1], [0, 0], [0, 1]]
    # A marker at the first differing step.
    assert figure["layout"]["shapes"][0]["x0"] == 1


def test_untraced_heatmap_is_per_epoch() -> None:
    divergence = locate_divergence(_trace(1, "x", False), _trace(2, "y", False)).to_dict()
    figure = divergence_figure(divergence)
    assert figure is not None
    heatmap = figure["data"][0]
    assert heatmap["y"] == ["dense", "out"] and heatmap["x"] == [0, 1]
    assert heatmap["z"] == [[0, 0], [0, 1]]


def test_identical_runs_have_no_marker_and_no_layers_no_figure() -> None:
    same = locate_divergence(_trace(1, "x"), _trace(2, "x")).to_dict()
    figure = divergence_figure(same)
    assert figure is not None and figure["layout"]["shapes"] == []
    assert divergence_figure({"layer_names": []}) is None

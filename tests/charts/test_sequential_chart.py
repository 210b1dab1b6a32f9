"""The half-width against seeds figure of a sequential job."""

from __future__ import annotations

import json

from seedlab.charts.sequential import halfwidth_figure


def test_finished_rounds_are_points_and_the_target_a_dashed_line() -> None:
    fig = halfwidth_figure([(5, 0.006), (12, 0.0031), (20, None)], target=0.003, metric="val_auc")
    line, target = fig["data"]
    assert line["x"] == [5, 12] and line["y"] == [0.006, 0.0031]  # the running round is left out
    assert target["x"] == [5, 20] and target["y"] == [0.003, 0.003]
    assert target["line"]["dash"] == "dash" and target["name"] == "target 0.003"
    json.dumps(fig, allow_nan=False)


def test_one_round_still_draws_a_visible_target() -> None:
    fig = halfwidth_figure([(5, float("nan"))], target=0.01, metric="m")
    assert fig["data"][0]["x"] == []
    assert fig["data"][1]["x"] == [4.5, 5.5]

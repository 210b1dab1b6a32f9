"""A sweep's metric against one swept parameter: a point per seed, the mean with its 95% CI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seedlab.charts.overlay import PALETTE

MEAN_COLOUR = "#24292f"
SPAN = 0.6  # configurations sharing a value of the parameter spread over this much of the axis
DOTS = 0.07  # the seeds' dots sit this far left of their mean, so the mean never hides them


def sweep_figure(
    configs: Sequence[Mapping[str, Any]],
    values: Sequence[Mapping[int, float]],
    *,
    parameter: str,
    metric: str,
) -> dict[str, Any]:
    """configs: the report's configurations (params, mean, ci95, eliminated_after); values:
    each one's metric per seed. One column per value of `parameter` (in first-seen order);
    configurations that share it (other parameters differ) sit side by side."""
    labels: list[str] = []
    for c in configs:
        label = str(c["params"].get(parameter))
        if label not in labels:
            labels.append(label)
    groups: dict[str, list[int]] = {label: [] for label in labels}
    for i, c in enumerate(configs):
        groups[str(c["params"].get(parameter))].append(i)
    position: dict[int, float] = {}
    for x, label in enumerate(labels):
        members = groups[label]
        for j, i in enumerate(members):
            offset = 0.0 if len(members) == 1 else SPAN * (j / (len(members) - 1) - 0.5)
            position[i] = x + offset
    seeds_x: list[float] = []
    seeds_y: list[float] = []
    seeds_text: list[str] = []
    for i, per in enumerate(values):
        for seed, value in sorted(per.items()):
            seeds_x.append(position[i] - DOTS)
            seeds_y.append(value)
            seeds_text.append(f"{_label(configs[i]['params'])}, seed {seed}")
    shown = [i for i, c in enumerate(configs) if c.get("mean") is not None]
    means = [configs[i]["mean"] for i in shown]
    ci = [configs[i].get("ci95") for i in shown]
    plus = [(c[1] - m) if c else 0.0 for c, m in zip(ci, means, strict=True)]
    minus = [(m - c[0]) if c else 0.0 for c, m in zip(ci, means, strict=True)]
    seeds_trace = {
        "type": "scatter",
        "mode": "markers",
        "name": "one seed",
        "x": seeds_x,
        "y": seeds_y,
        "text": seeds_text,
        "marker": {"size": 7, "color": PALETTE[0], "opacity": 0.7},
        "hovertemplate": "%{text}: %{y:.4g}<extra></extra>",
    }
    mean_trace = {
        "type": "scatter",
        "mode": "markers",
        "name": "mean, 95% CI",
        "x": [position[i] for i in shown],
        "y": means,
        "text": [_label(configs[i]["params"]) for i in shown],
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "color": MEAN_COLOUR,
            "thickness": 2,
            "width": 6,
        },
        "marker": {
            "size": 11,
            "symbol": ["x" if configs[i].get("eliminated_after") else "diamond" for i in shown],
            "color": MEAN_COLOUR,
        },
        "hovertemplate": "%{text}: mean %{y:.4g}<extra></extra>",
    }
    return {
        "data": [seeds_trace, mean_trace],
        "layout": {
            "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.3},
            "xaxis": {
                "title": {"text": parameter},
                "tickvals": list(range(len(labels))),
                "ticktext": labels,
                "range": [-0.6, len(labels) - 0.4],
                "zeroline": False,
                "showgrid": False,
            },
            "yaxis": {"title": {"text": metric}, "tickformat": ".3~g"},
        },
    }


def _label(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())

"""The run-pair divergence timeline as a Plotly heatmap: rows are layers, columns steps."""

from __future__ import annotations

from typing import Any

INPUT_ROW = "input batch"
SAME_COLOUR = "#d9f2e3"
DIFFERS_COLOUR = "#d64545"
# Red where the two runs differ, pale green where they agree, blank where nothing was recorded.
COLOURSCALE = [[0.0, SAME_COLOUR], [0.5, SAME_COLOUR], [0.5, DIFFERS_COLOUR], [1.0, DIFFERS_COLOUR]]


def _cell(differs: bool | None) -> int | None:
    return None if differs is None else int(differs)


def divergence_figure(divergence: dict[str, Any]) -> dict[str, Any] | None:
    """Heatmap of what differs between two runs: per traced step if traced, else per epoch."""
    layers: list[str] = divergence.get("layer_names") or []
    if not layers:
        return None
    steps = divergence.get("step_timeline") or []
    epochs = divergence.get("epoch_timeline") or []
    if steps and epochs:
        initial = {
            "global_step": 0,
            "epoch": 0,
            "step": 0,
            "input_differs": None,
            "differing": epochs[0]["differing"],
        }
        steps = [initial, *steps]
        rows = [INPUT_ROW, *layers]
        x = [row["global_step"] for row in steps]
        z = [[_cell(row["input_differs"]) for row in steps]]
        z += [[int(name in row["differing"]) for row in steps] for name in layers]
        text = [
            f"epoch {row['epoch']}, step {row['step']}" if row["global_step"] else "initial"
            for row in steps
        ]
        x_title = "optimizer step (0 = before training)"
        marker = divergence.get("global_step")
    else:
        rows = list(layers)
        x = [row["epoch"] for row in epochs]
        z = [[int(name in row["differing"]) for row in epochs] for name in layers]
        text = [f"epoch {row['epoch']}" for row in epochs]
        x_title = "epoch (0 = before training)"
        marker = divergence.get("epoch")
    heatmap = {
        "type": "heatmap",
        "x": x,
        "y": rows,
        "z": z,
        "zmin": 0,
        "zmax": 1,
        "colorscale": COLOURSCALE,
        "showscale": False,
        "xgap": 1 if len(x) <= 200 else 0,
        "ygap": 2,
        "customdata": [text for _ in rows],
        "hovertemplate": "%{y}<br>%{customdata}<br>%{z:d} = differs<extra></extra>",
    }
    layout: dict[str, Any] = {
        "height": 120 + 28 * len(rows),
        "margin": {"l": 110, "r": 20, "t": 10, "b": 50},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"autorange": "reversed"},
        "shapes": [],
    }
    if not divergence.get("identical") and marker is not None:
        layout["shapes"].append(
            {
                "type": "line",
                "x0": marker,
                "x1": marker,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#222", "width": 2, "dash": "dot"},
            }
        )
    return {"data": [heatmap], "layout": layout}

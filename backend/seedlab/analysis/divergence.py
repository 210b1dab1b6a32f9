"""The first-divergence locator: where, and why, two runs of one seed stop being identical.

Pure functions over per-layer weight checksums (see runs.models.RunTrace): before training
(epoch 0), after every epoch and, when the profile traced them, after every optimizer step
together with a checksum of the step's input batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Why the runs part, from the earliest evidence that differs.
MODEL = "model"  # the models do not have the same layers
INITIALISATION = "initialisation"  # the weights differ before the first step
DATA_ORDER = "data_order"  # the step trained on a different input batch
NUMERIC = "numeric"  # same inputs, same weights before, different weights after the step
DATA = "data"  # untraced, but the data hashes already differ
UNKNOWN = "unknown"  # untraced: only the epoch is known

_EXPLANATIONS = {
    MODEL: "The two models do not have the same layers, so their weights cannot match.",
    INITIALISATION: (
        "The weights already differ before the first optimizer step: the initialisers drew "
        "different values (Keras 3 takes their default seeds from Python's random module)."
    ),
    DATA_ORDER: (
        "The input batches already differ at this step: the data, their order or their "
        "preprocessing changed (a shuffle, a split, a random augmentation or a parallel map)."
    ),
    NUMERIC: (
        "Both runs fed the same input batch to the same weights, and the weights differ after "
        "the update: a random op inside the step (dropout) or a kernel that is not "
        "deterministic (reduction order, threads, oneDNN)."
    ),
    DATA: (
        "The data hashes differ: the runs trained on different data. Trace per step "
        "(profile option trace) to see the first batch that differs."
    ),
    UNKNOWN: (
        "Only per-epoch checksums exist for these runs. Trace per step (profile option "
        "trace) to find the first step and whether its inputs differed."
    ),
}


@dataclass(frozen=True)
class TraceData:
    """One run's checksums as the locator needs them."""

    run_id: int
    layers: list[str]
    initial: list[str]
    epochs: list[list[str]]
    steps: list[list[Any]] | None = None
    steps_truncated: bool = False
    data_hash: str | None = None

    @property
    def traced(self) -> bool:
        """Whether per-step checksums were recorded."""
        return self.steps is not None


@dataclass(frozen=True)
class Divergence:
    """The first point where two runs differ, its likely cause, and the whole timeline."""

    run_a: int
    run_b: int
    identical: bool
    traced: bool
    epoch: int | None = None
    step: int | None = None
    global_step: int | None = None
    cause: str | None = None
    inputs_differ: bool | None = None
    layers: list[str] = field(default_factory=list)
    data_hash_differs: bool | None = None
    explanation: str = ""
    layer_names: list[str] = field(default_factory=list)
    epoch_timeline: list[dict[str, Any]] = field(default_factory=list)
    step_timeline: list[dict[str, Any]] = field(default_factory=list)
    steps_truncated: bool = False

    def summary(self) -> dict[str, Any]:
        """The first divergence without the timeline (for reports)."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "identical": self.identical,
            "traced": self.traced,
            "epoch": self.epoch,
            "step": self.step,
            "global_step": self.global_step,
            "cause": self.cause,
            "inputs_differ": self.inputs_differ,
            "layers": list(self.layers),
            "data_hash_differs": self.data_hash_differs,
            "explanation": self.explanation,
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary plus the epoch and step timelines."""
        return {
            **self.summary(),
            "layer_names": list(self.layer_names),
            "epoch_timeline": self.epoch_timeline,
            "step_timeline": self.step_timeline,
            "steps_truncated": self.steps_truncated,
        }


def _differing(layers: list[str], a: list[str], b: list[str]) -> list[str]:
    """Names of the layers whose checksums differ (a missing snapshot counts as differing)."""
    if not a or not b:
        return list(layers) if a != b else []
    return [name for name, x, y in zip(layers, a, b, strict=True) if x != y]


def _data_hash_differs(a: TraceData, b: TraceData) -> bool | None:
    if a.data_hash is None or b.data_hash is None:
        return None
    return a.data_hash != b.data_hash


def _epoch_timeline(a: TraceData, b: TraceData) -> list[dict[str, Any]]:
    rows = [{"epoch": 0, "differing": _differing(a.layers, a.initial, b.initial)}]
    for index, (x, y) in enumerate(zip(a.epochs, b.epochs, strict=False)):
        rows.append({"epoch": index + 1, "differing": _differing(a.layers, x, y)})
    return rows


def _step_timeline(a: TraceData, b: TraceData) -> list[dict[str, Any]]:
    assert a.steps is not None and b.steps is not None
    rows = []
    for index, (x, y) in enumerate(zip(a.steps, b.steps, strict=False)):
        epoch_a, step_a, input_a, layers_a = x
        epoch_b, step_b, input_b, layers_b = y
        if (epoch_a, step_a) != (epoch_b, step_b):
            break  # one run has more steps per epoch: later steps are not comparable
        rows.append(
            {
                "global_step": index + 1,
                "epoch": epoch_a,
                "step": step_a,
                # None: a step without an input checksum (an XLA-compiled step) is not evidence.
                "input_differs": None if input_a is None or input_b is None else input_a != input_b,
                "differing": _differing(a.layers, layers_a, layers_b),
            }
        )
    return rows


def locate_divergence(a: TraceData, b: TraceData) -> Divergence:
    """Compare two runs' traces and name the first epoch (and step) where they differ."""
    traced = a.traced and b.traced
    data_differs = _data_hash_differs(a, b)
    base: dict[str, Any] = {
        "run_a": a.run_id,
        "run_b": b.run_id,
        "traced": traced,
        "data_hash_differs": data_differs,
        "steps_truncated": a.steps_truncated or b.steps_truncated,
    }
    if len(a.layers) != len(b.layers):
        return Divergence(
            **base,
            identical=False,
            epoch=0,
            cause=MODEL,
            explanation=_EXPLANATIONS[MODEL]
            + f" Run #{a.run_id}: {a.layers}; run #{b.run_id}: {b.layers}.",
        )
    epochs = _epoch_timeline(a, b)
    steps = _step_timeline(a, b) if traced else []
    base.update(layer_names=list(a.layers), epoch_timeline=epochs, step_timeline=steps)

    first_epoch = next((row for row in epochs if row["differing"]), None)
    if first_epoch is not None and first_epoch["epoch"] == 0:
        return Divergence(
            **base,
            identical=False,
            epoch=0,
            step=0 if traced else None,
            global_step=0 if traced else None,
            cause=INITIALISATION,
            layers=first_epoch["differing"],
            explanation=_EXPLANATIONS[INITIALISATION],
        )
    first_step = next((row for row in steps if row["differing"] or row["input_differs"]), None)
    if first_step is not None:
        cause = DATA_ORDER if first_step["input_differs"] else NUMERIC
        return Divergence(
            **base,
            identical=False,
            epoch=first_step["epoch"],
            step=first_step["step"],
            global_step=first_step["global_step"],
            cause=cause,
            inputs_differ=first_step["input_differs"],
            layers=first_step["differing"],
            explanation=_EXPLANATIONS[cause],
        )
    if first_epoch is not None:
        cause = DATA if data_differs else UNKNOWN
        return Divergence(
            **base,
            identical=False,
            epoch=first_epoch["epoch"],
            cause=cause,
            layers=first_epoch["differing"],
            explanation=_EXPLANATIONS[cause],
        )
    if len(a.epochs) != len(b.epochs):
        shorter = min(len(a.epochs), len(b.epochs))
        return Divergence(
            **base,
            identical=False,
            epoch=shorter + 1,
            cause=UNKNOWN,
            explanation=f"The runs agree for {shorter} epochs, then run #{a.run_id} trained "
            f"{len(a.epochs)} epochs and run #{b.run_id} {len(b.epochs)}.",
        )
    return Divergence(
        **base,
        identical=True,
        explanation="The runs have identical weights at every recorded point.",
    )


def divergence_sentence(divergence: dict[str, Any] | None) -> str:
    """One sentence for a divergence summary: where the runs first differ and how."""
    if not divergence or divergence.get("identical"):
        return "identical"
    epoch, step = divergence.get("epoch"), divergence.get("step")
    if epoch == 0:
        where = "before training"
    elif step:
        where = f"epoch {epoch}, step {step}"
    else:
        where = f"epoch {epoch}"
    what = {
        INITIALISATION: "initial weights differ",
        DATA_ORDER: "input batch differs",
        NUMERIC: "same inputs, weights differ",
        DATA: "data hashes differ",
        MODEL: "different layers",
    }.get(divergence.get("cause") or "", "weights differ")
    layers = divergence.get("layers") or []
    shown = f" ({', '.join(layers[:3])}{'…' if len(layers) > 3 else ''})" if layers else ""
    return f"{where}: {what}{shown}"

"""Warnings a run's own records support: what seeds alone do not tell a reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

REPEATED_EPOCH_ORDER = "repeated_epoch_order"
REPEATED_EPOCH_ORDER_MESSAGE = (
    "Every epoch fed the training batches in one and the same order (the first batch of each "
    "epoch has the same checksum). With a global TensorFlow seed, Keras model.fit on NumPy "
    "arrays with shuffle=True shuffles once and repeats that order in every epoch, so seed "
    "variance here understates data-order variance. For a fresh order each epoch that stays "
    "reproducible, feed a tf.data pipeline with a seeded "
    "shuffle(buffer, seed=ctx.shuffle_seed, reshuffle_each_iteration=True)."
)


def repeated_epoch_order(first_batches: Sequence[str | None]) -> bool:
    """True when 2+ epochs all began with the same input batch (order known for every epoch)."""
    if len(first_batches) < 2 or any(c is None for c in first_batches):
        return False
    return len(set(first_batches)) == 1


def run_warnings(*, first_batches: Sequence[str | None], where: str) -> list[dict[str, Any]]:
    """The run's warnings as {code, where, message}."""
    found: list[dict[str, Any]] = []
    if repeated_epoch_order(first_batches):
        found.append(
            {"code": REPEATED_EPOCH_ORDER, "where": where, "message": REPEATED_EPOCH_ORDER_MESSAGE}
        )
    return found


def job_warnings(runs: Sequence[tuple[int, Sequence[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One warning per (code, where) over the job's runs, naming how many runs and which."""
    grouped: dict[tuple[str, str], tuple[str, list[int]]] = {}
    for run_id, warnings in runs:
        for warning in warnings:
            key = (str(warning["code"]), str(warning["where"]))
            grouped.setdefault(key, (str(warning["message"]), []))[1].append(run_id)
    total = len(runs)
    out = []
    for (code, where), (message, ids) in sorted(grouped.items()):
        listed = ", ".join(f"#{i}" for i in sorted(ids))
        out.append(
            {
                "code": code,
                "where": f"{where} in {len(ids)} of {total} run(s) ({listed})",
                "message": message,
            }
        )
    return out


# Facts about the machine rather than the model: shown once, beside the environment.
MACHINE_CODES = frozenset({"onednn_enabled"})


def grouped_warnings(runs: Sequence[tuple[int, Sequence[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One entry per warning code: how many runs, the places (layers, stages) and the messages.

    A model with five lookup layers gives one line, not five paragraphs saying the same thing.
    """
    groups: dict[str, dict[str, Any]] = {}
    for run_id, warnings in runs:
        for warning in warnings:
            code = str(warning["code"])
            group = groups.setdefault(code, {"runs": set(), "wheres": {}, "messages": {}})
            group["runs"].add(run_id)
            group["wheres"].setdefault(str(warning["where"]), None)
            group["messages"].setdefault(str(warning["message"]), None)
    return [
        {
            "code": code,
            "runs": len(group["runs"]),
            "total": len(runs),
            "wheres": list(group["wheres"]),
            "messages": list(group["messages"]),
            "machine": code in MACHINE_CODES,
        }
        for code, group in sorted(groups.items())
    ]

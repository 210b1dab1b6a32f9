"""The randomness-source audit: which controls does an experiment rely on? Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from seedlab.analysis.divergence import (
    Divergence,
    TraceData,
    divergence_sentence,
    locate_divergence,
)
from seedlab.analysis.types import RunData
from seedlab.analysis.verdict import compute_verdict

BASELINE = "baseline"
WITHOUT = "without:"
ENV = "env:"


def without(toggle: str) -> str:
    """Variant name of the pair run with one toggle off."""
    return f"{WITHOUT}{toggle}"


def env_variant(env: dict[str, str]) -> str:
    """Variant name of the pair run under one pre-import environment."""
    return ENV + ",".join(f"{k}={v}" for k, v in sorted(env.items()))


@dataclass(frozen=True)
class AuditRun:
    """A run of an audit job: its plain data plus variant, timing and data hash."""

    data: RunData
    variant: str
    seconds_per_epoch: float | None = None
    data_hash: str | None = None
    error: str | None = None
    trace: TraceData | None = None


@dataclass(frozen=True)
class PairOutcome:
    """How the two (or more) runs of one variant compare."""

    bitwise: bool
    max_abs_diff: dict[str, float]
    first_divergence: dict[str, Any] | None
    seconds_per_epoch: float | None
    weights_checksums: list[str | None]
    data_hashes: list[str | None] = field(default_factory=list)
    error: str | None = None


def _pair(runs: Sequence[AuditRun]) -> PairOutcome | None:
    failed = [r for r in runs if r.data.status == "failed"]
    if failed:
        # A control whose removal makes the run fail is one the experiment relies on (for
        # example op determinism refuses unseeded random ops once the TF seed is off).
        return PairOutcome(
            bitwise=False,
            max_abs_diff={},
            first_divergence=None,
            seconds_per_epoch=None,
            weights_checksums=[],
            error=failed[0].error or "run failed",
        )
    done = [r for r in runs if r.data.succeeded]
    if len(done) < 2:
        return None
    verdict = compute_verdict([r.data for r in done])
    evidence = verdict.seeds[0]
    timings = [r.seconds_per_epoch for r in done if r.seconds_per_epoch is not None]
    bitwise = verdict.verdict == "bitwise"
    return PairOutcome(
        bitwise=bitwise,
        max_abs_diff=dict(evidence.max_abs_diff),
        first_divergence=(
            None if bitwise else _first_divergence(done, evidence.first_divergent_epoch)
        ),
        seconds_per_epoch=mean(timings) if timings else None,
        weights_checksums=[r.data.weights_checksum for r in done],
        data_hashes=[r.data_hash for r in done],
    )


def _first_divergence(done: Sequence[AuditRun], epoch: int | None) -> dict[str, Any]:
    """Where the first two runs part: located from their traces, else the epoch alone."""
    first, second = done[0], done[1]
    if first.trace is not None and second.trace is not None:
        return locate_divergence(first.trace, second.trace).summary()
    # Runs finished before traces were recorded: the same shape, with the epoch alone.
    return Divergence(
        run_a=first.data.run_id,
        run_b=second.data.run_id,
        identical=False,
        traced=False,
        epoch=epoch,
        explanation="These runs have no trace; only the first differing epoch is known.",
    ).summary()


def audit_report(runs: Sequence[AuditRun], toggles: Sequence[str]) -> dict[str, Any]:
    """Per toggle: does turning it off break bit-equality, by how much, and at what cost."""
    by_variant: dict[str, list[AuditRun]] = defaultdict(list)
    for run in runs:
        by_variant[run.variant].append(run)
    baseline = _pair(by_variant.get(BASELINE, []))
    report: dict[str, Any] = {
        "baseline_bitwise": baseline.bitwise if baseline else None,
        "baseline": _outcome_dict(baseline),
        "toggles": {},
        "culprits": [],
        "env_matrix": [],
        "complete": True,
    }
    for toggle in toggles:
        outcome = _pair(by_variant.get(without(toggle), []))
        if outcome is None:
            report["complete"] = False
        report["toggles"][toggle] = {
            "breaks_bitwise": None if outcome is None else not outcome.bitwise,
            "max_abs_diff": outcome.max_abs_diff if outcome else None,
            "first_divergence": outcome.first_divergence if outcome else None,
            "seconds_per_epoch_on": baseline.seconds_per_epoch if baseline else None,
            "seconds_per_epoch_off": outcome.seconds_per_epoch if outcome else None,
            "error": outcome.error if outcome else None,
        }
    if baseline is not None and baseline.bitwise:
        report["culprits"] = [
            t for t, row in report["toggles"].items() if row["breaks_bitwise"] is True
        ]
    report["env_matrix"] = _env_matrix(by_variant)
    report["conclusion"] = _conclusion(report, baseline)
    if baseline is None:
        report["complete"] = False
    return report


def _outcome_dict(outcome: PairOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "bitwise": outcome.bitwise,
        "max_abs_diff": outcome.max_abs_diff,
        "first_divergence": outcome.first_divergence,
        "seconds_per_epoch": outcome.seconds_per_epoch,
        "data_differs": len(set(outcome.data_hashes)) > 1,
    }


def _env_matrix(by_variant: dict[str, list[AuditRun]]) -> list[dict[str, Any]]:
    rows = []
    for variant in sorted(v for v in by_variant if v.startswith(ENV)):
        outcome = _pair(by_variant[variant])
        checksums = sorted({c for c in (outcome.weights_checksums if outcome else []) if c})
        rows.append(
            {
                "variant": variant.removeprefix(ENV),
                "bitwise_within": outcome.bitwise if outcome else None,
                "weights_checksum": checksums[0] if len(checksums) == 1 else None,
                "seconds_per_epoch": outcome.seconds_per_epoch if outcome else None,
            }
        )
    stable = [r for r in rows if r["bitwise_within"] and r["weights_checksum"]]
    distinct = {r["weights_checksum"] for r in stable}
    for row in rows:
        row["changes_results"] = len(distinct) > 1 and row in stable
    return rows


def _conclusion(report: dict[str, Any], baseline: PairOutcome | None) -> str:
    if baseline is None:
        return "The baseline pair (every control on) has not finished yet."
    if baseline.error:
        return f"The baseline runs (every control on) failed: {baseline.error}"
    if not baseline.bitwise:
        where = (
            f" They first differ at {divergence_sentence(baseline.first_divergence)}."
            if baseline.first_divergence
            else ""
        )
        data = (
            " The data hashes already differ before training: a random source in data "
            "loading that no toggle controls (for example an unseeded generator)."
            if len(set(baseline.data_hashes)) > 1
            else ""
        )
        return (
            "Even with every control on, same-seed runs differ, so no single toggle explains it."
            + where
            + data
        )
    culprits = report["culprits"]
    matrix = [r["variant"] for r in report["env_matrix"] if r["changes_results"]]
    parts = []
    if culprits:
        parts.append("This experiment relies on: " + ", ".join(culprits) + ".")
        failing = [t for t in culprits if report["toggles"][t]["error"]]
        if failing:
            parts.append(
                "Without " + ", ".join(failing) + " the runs fail outright (see the errors)."
            )
    else:
        parts.append("No single toggle breaks bit-equality when turned off.")
    if matrix:
        parts.append(
            "The pre-import environment changes results: " + " vs ".join(matrix) + " give "
            "different weights (each bit-identical within itself)."
        )
    return " ".join(parts)

"""The verdict: are same-seed runs bit-for-bit identical? Exact comparisons only."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seedlab.analysis.types import RunData

BITWISE = "bitwise"
WITHIN_TOLERANCE = "within_tolerance"
NONDETERMINISTIC = "nondeterministic"
NOT_CHECKED = "not_checked"

# Final metrics share a metric's name with its curve but have no epoch; this step keys them.
_FINAL = -1


@dataclass(frozen=True)
class SeedEvidence:
    """How the succeeded runs of one seed compare."""

    seed: int
    run_ids: list[int]
    weights_identical: bool
    metrics_identical: bool
    max_abs_diff: dict[str, float]
    first_divergent_epoch: int | None
    # Metrics logged by only some runs or at different epochs: no tolerance can excuse them.
    mismatched_metrics: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a non-finite difference becomes None)."""
        return {
            "seed": self.seed,
            "run_ids": list(self.run_ids),
            "weights_identical": self.weights_identical,
            "metrics_identical": self.metrics_identical,
            "max_abs_diff": {k: _finite_or_none(v) for k, v in self.max_abs_diff.items()},
            "first_divergent_epoch": self.first_divergent_epoch,
            "mismatched_metrics": list(self.mismatched_metrics),
        }


@dataclass(frozen=True)
class Verdict:
    """The verdict with its evidence per seed."""

    verdict: str
    summary: str
    checked_seeds: int
    seeds: list[SeedEvidence]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "checked_seeds": self.checked_seeds,
            "seeds": [s.to_dict() for s in self.seeds],
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _same(a: float, b: float) -> bool:
    """Exact equality, except that NaN equals NaN: a run that diverged the same way is identical."""
    return a == b or (math.isnan(a) and math.isnan(b))


def _abs_diff(a: float, b: float) -> float:
    """|a - b|, 0 for identical values, inf when only one side is NaN or infinite."""
    if _same(a, b):
        return 0.0
    diff = abs(a - b)
    return diff if math.isfinite(diff) else math.inf


def _series(run: RunData) -> dict[str, dict[int, float]]:
    """Every logged value of a run keyed by metric then epoch; final values use step _FINAL."""
    values: dict[str, dict[int, float]] = {k: dict(points) for k, points in run.curves.items()}
    for key, value in run.final_metrics.items():
        values.setdefault(key, {})[_FINAL] = value
    return values


def _compare_metrics(runs: Sequence[RunData]) -> tuple[dict[str, float], list[str]]:
    """Largest absolute difference per metric, and metrics whose logged epochs differ."""
    series = [_series(run) for run in runs]
    diffs: dict[str, float] = {}
    mismatched: list[str] = []
    for name in sorted(set().union(*(s.keys() for s in series))):
        per_run = [s.get(name) for s in series]
        present = [p for p in per_run if p is not None]
        if len(present) != len(per_run) or any(p.keys() != present[0].keys() for p in present):
            mismatched.append(name)
        worst = 0.0
        for step in set().union(*(p.keys() for p in present)):
            values = [p[step] for p in present if step in p]
            # Pairwise against the first value is enough for ==, but not for the largest gap.
            worst = max([worst] + [_abs_diff(a, b) for a in values for b in values])
        diffs[name] = worst
    return diffs, mismatched


def _first_divergent_epoch(runs: Sequence[RunData]) -> int | None:
    """The first epoch after which the runs' weight checksums differ (1 = after the first).

    Epoch checksums start after the first epoch, so weights that already differed before
    training also show as 1 here; the trace-based locator can say 0 (see compute_verdict).
    """
    longest = max(len(run.epoch_checksums) for run in runs)
    for index in range(longest):
        # A run that stopped logging checksums earlier counts as differing there.
        at_epoch = {
            run.epoch_checksums[index] if index < len(run.epoch_checksums) else None for run in runs
        }
        if len(at_epoch) > 1:
            return index + 1
    return None


def _evidence(seed: int, runs: Sequence[RunData], located: int | None) -> SeedEvidence:
    checksums = {run.weights_checksum for run in runs}
    diffs, mismatched = _compare_metrics(runs)
    return SeedEvidence(
        seed=seed,
        run_ids=[run.run_id for run in runs],
        # A missing checksum proves nothing, so it never counts as identical.
        weights_identical=len(checksums) == 1 and None not in checksums,
        metrics_identical=not mismatched and all(d == 0.0 for d in diffs.values()),
        max_abs_diff=diffs,
        first_divergent_epoch=located if located is not None else _first_divergent_epoch(runs),
        mismatched_metrics=mismatched,
    )


def _tolerated(evidence: SeedEvidence, tolerance: Mapping[str, float]) -> bool:
    """Every metric within its tolerance; metrics without one must be exactly identical."""
    if evidence.mismatched_metrics:
        return False
    return all(diff <= tolerance.get(name, 0.0) for name, diff in evidence.max_abs_diff.items())


def compute_verdict(
    runs: Sequence[RunData],
    tolerance: Mapping[str, float] | None = None,
    located_epochs: Mapping[int, int] | None = None,
) -> Verdict:
    """Compare the succeeded runs of every seed that has at least two of them.

    located_epochs: per seed, the first divergent epoch the trace-based locator found (0 =
    before training), which is more precise than the epoch checksums alone.
    """
    located_epochs = located_epochs or {}
    by_seed: dict[int, list[RunData]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id)):
        if run.succeeded:
            by_seed[run.seed].append(run)
    evidence = [
        _evidence(seed, group, located_epochs.get(seed))
        for seed, group in by_seed.items()
        if len(group) >= 2
    ]
    n = len(evidence)
    if not evidence:
        return Verdict(
            verdict=NOT_CHECKED,
            summary="No seed has two succeeded runs yet, so determinism was not checked.",
            checked_seeds=0,
            seeds=[],
        )
    differing = [e for e in evidence if not (e.weights_identical and e.metrics_identical)]
    if not differing:
        return Verdict(
            verdict=BITWISE,
            summary=f"All {n} repeated seed(s) gave bit-for-bit identical weights and metrics.",
            checked_seeds=n,
            seeds=evidence,
        )
    # An empty mapping sets no tolerance at all, so it cannot excuse a difference.
    if tolerance and all(_tolerated(e, tolerance) for e in differing):
        return Verdict(
            verdict=WITHIN_TOLERANCE,
            summary=f"{len(differing)} of {n} repeated seed(s) differ between runs, but every "
            "metric stays within its tolerance.",
            checked_seeds=n,
            seeds=evidence,
        )
    worst = max(differing, key=lambda e: max(e.max_abs_diff.values(), default=0.0))
    where = {
        None: "",
        0: ", weights already differ before training",
    }.get(
        worst.first_divergent_epoch,
        f", weights first differ after epoch {worst.first_divergent_epoch}",
    )
    return Verdict(
        verdict=NONDETERMINISTIC,
        summary=f"{len(differing)} of {n} repeated seed(s) differ between runs (worst: seed "
        f"{worst.seed}{where}).",
        checked_seeds=n,
        seeds=evidence,
    )

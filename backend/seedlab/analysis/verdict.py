"""The verdict: are same-seed runs bit-for-bit identical? Exact comparisons only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from seedlab.analysis.types import RunData

BITWISE = "bitwise"
WITHIN_TOLERANCE = "within_tolerance"
NONDETERMINISTIC = "nondeterministic"
NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class SeedEvidence:
    """How the runs of one seed compare."""

    seed: int
    run_ids: list[int]
    weights_identical: bool
    metrics_identical: bool
    max_abs_diff: dict[str, float]
    first_divergent_epoch: int | None


@dataclass(frozen=True)
class Verdict:
    """The verdict with its evidence per seed."""

    verdict: str
    summary: str
    checked_seeds: int
    seeds: list[SeedEvidence]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _series(run: RunData) -> dict[str, dict[int, float]]:
    """Every logged value of a run keyed by metric then step; finals are step -1."""
    values: dict[str, dict[int, float]] = {k: dict(points) for k, points in run.curves.items()}
    for key, value in run.final_metrics.items():
        values.setdefault(f"final:{key}", {})[-1] = value
    return values


def _max_abs_diff(runs: Sequence[RunData]) -> tuple[dict[str, float], bool]:
    """Largest absolute difference per metric across runs, and whether all values are equal."""
    series = [_series(run) for run in runs]
    identical = all(s.keys() == series[0].keys() for s in series)
    diffs: dict[str, float] = {}
    for key in sorted(set().union(*(s.keys() for s in series))):
        name = key.removeprefix("final:")
        per_step: dict[int, list[float]] = defaultdict(list)
        for s in series:
            for step, value in s.get(key, {}).items():
                per_step[step].append(value)
        for values in per_step.values():
            if len(values) != len(series):
                identical = False  # a step logged by some runs only
            spread = max(values) - min(values)
            if spread != 0 or any(v != values[0] for v in values):
                identical = False
            diffs[name] = max(diffs.get(name, 0.0), spread)
    return diffs, identical


def _first_divergent_epoch(runs: Sequence[RunData]) -> int | None:
    """1-based index of the first epoch whose weight checksum differs among the runs."""
    longest = max(len(run.epoch_checksums) for run in runs)
    for index in range(longest):
        at_epoch = {run.epoch_checksums[index] if index < len(run.epoch_checksums) else None
                    for run in runs}
        if len(at_epoch) > 1:
            return index + 1
    return None


def _evidence(seed: int, runs: Sequence[RunData]) -> SeedEvidence:
    checksums = {run.weights_checksum for run in runs}
    diffs, metrics_identical = _max_abs_diff(runs)
    return SeedEvidence(
        seed=seed,
        run_ids=[run.run_id for run in runs],
        weights_identical=len(checksums) == 1 and None not in checksums,
        metrics_identical=metrics_identical,
        max_abs_diff=diffs,
        first_divergent_epoch=_first_divergent_epoch(runs),
    )


def compute_verdict(
    runs: Sequence[RunData], tolerance: Mapping[str, float] | None = None
) -> Verdict:
    """Compare the succeeded runs of every seed that has at least two of them."""
    by_seed: dict[int, list[RunData]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.run_id)):
        if run.succeeded:
            by_seed[run.seed].append(run)
    evidence = [_evidence(seed, group) for seed, group in by_seed.items() if len(group) >= 2]
    if not evidence:
        return Verdict(
            verdict=NOT_CHECKED,
            summary="No seed has two succeeded runs yet, so determinism was not checked.",
            checked_seeds=0,
            seeds=[],
        )
    differing = [e for e in evidence if not (e.weights_identical and e.metrics_identical)]
    n = len(evidence)
    if not differing:
        return Verdict(
            verdict=BITWISE,
            summary=f"All {n} repeated seed(s) gave bit-for-bit identical weights and metrics.",
            checked_seeds=n,
            seeds=evidence,
        )
    if tolerance and all(
        all(diff <= tolerance.get(metric, 0.0) for metric, diff in e.max_abs_diff.items())
        for e in differing
    ):
        return Verdict(
            verdict=WITHIN_TOLERANCE,
            summary=f"{len(differing)} of {n} repeated seed(s) differ, but every metric stays "
            "within its tolerance.",
            checked_seeds=n,
            seeds=evidence,
        )
    worst = max(differing, key=lambda e: max(e.max_abs_diff.values(), default=0.0))
    where = (
        f"; weights first differ at epoch {worst.first_divergent_epoch}"
        if worst.first_divergent_epoch
        else ""
    )
    return Verdict(
        verdict=NONDETERMINISTIC,
        summary=f"{len(differing)} of {n} repeated seed(s) differ between runs (seed "
        f"{worst.seed}{where}).",
        checked_seeds=n,
        seeds=evidence,
    )

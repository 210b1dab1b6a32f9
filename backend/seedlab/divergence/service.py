"""Loading run traces and locating where two runs first differ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from seedlab.analysis.divergence import TraceData, locate_divergence
from seedlab.cache import ResultCache
from seedlab.divergence.schemas import DivergenceSummary, RunDivergence
from seedlab.errors import InvalidInput
from seedlab.fingerprints import repository as fingerprints_repository
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import Run

# A report locates the divergence of this many non-identical seeds at most: each needs two traces.
REPORT_SEEDS = 20


def data_hashes(*, session: Session, runs: Iterable[Run]) -> dict[int, str | None]:
    """The data hash each run's fingerprint recorded (None without one), in one query."""
    runs = list(runs)
    hashes = {run.fingerprint_hash for run in runs if run.fingerprint_hash}
    by_fingerprint = fingerprints_repository.data_by_hash(session=session, hashes=hashes)
    return {
        run.id: by_fingerprint.get(run.fingerprint_hash or "", {}).get("data_hash")
        for run in runs
    }


def load_traces(
    *,
    session: Session,
    runs: Iterable[Run],
    known_data_hashes: Mapping[int, str | None] | None = None,
) -> dict[int, TraceData]:
    """The traces of the given runs that have one, with their data hashes (looked up unless
    the caller already has them)."""
    by_id = {run.id: run for run in runs}
    if not by_id:
        return {}
    traces = runs_repository.traces(session=session, run_ids=list(by_id))
    data_hash = (
        known_data_hashes
        if known_data_hashes is not None
        else data_hashes(session=session, runs=[by_id[t.run_id] for t in traces])
    )
    return {
        trace.run_id: TraceData(
            run_id=trace.run_id,
            layers=list(trace.layers),
            initial=list(trace.initial),
            epochs=[list(e) for e in trace.epochs],
            steps=trace.steps,
            steps_truncated=trace.steps_truncated,
            data_hash=data_hash.get(trace.run_id),
        )
        for trace in traces
    }


def run_divergence(*, session: Session, run_a: int, run_b: int) -> RunDivergence:
    """Where two runs first differ, with the epoch and step timelines."""
    first = runs_repository.get_run(session=session, run_id=run_a)
    second = runs_repository.get_run(session=session, run_id=run_b)
    traces = load_traces(session=session, runs=[first, second])
    for run in (first, second):
        if run.id not in traces:
            raise InvalidInput(
                f"run {run.id} has no trace (status {run.status}): a trace is recorded when a "
                "run succeeds"
            )
    found = locate_divergence(traces[first.id], traces[second.id]).to_dict()
    if first.seed != second.seed and not found["identical"]:
        found["explanation"] = (
            f"These runs have different seeds ({first.seed} and {second.seed}), so they are "
            f"expected to differ. {found['explanation']}"
        )
    return RunDivergence.model_validate(found)


def seed_divergences(
    *,
    session: Session,
    runs: Sequence[Run],
    pairs: Sequence[tuple[int, int]],
    cache: ResultCache,
) -> list[DivergenceSummary]:
    """The first divergence of each given run pair whose runs both have a trace.

    A trace is written once, when its run succeeds, so a pair's summary never changes: the live
    job page, which rebuilds the report every few seconds, parses each pair's traces once.
    """
    pairs = list(pairs)[:REPORT_SEEDS]
    known = {pair: summary for pair in pairs if (summary := cache.divergences.get(pair))}
    wanted = {run_id for pair in pairs if pair not in known for run_id in pair}
    traces = load_traces(session=session, runs=[run for run in runs if run.id in wanted])
    found: list[DivergenceSummary] = []
    for a, b in pairs:
        summary = known.get((a, b))
        if summary is None and a in traces and b in traces:
            summary = DivergenceSummary.model_validate(
                locate_divergence(traces[a], traces[b]).summary()
            )
            cache.divergences.put((a, b), summary)
        if summary is not None:
            found.append(summary)
    return found

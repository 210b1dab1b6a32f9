"""Loading run traces and locating where two runs first differ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seedlab.analysis.divergence import TraceData, locate_divergence
from seedlab.divergence.schemas import DivergenceSummary, RunDivergence
from seedlab.errors import InvalidInput
from seedlab.fingerprints.models import Fingerprint
from seedlab.lru import LruCache
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run, RunTrace

# A report locates the divergence of this many non-identical seeds at most: each needs two traces.
REPORT_SEEDS = 20
# A trace is written once, when its run succeeds, so a pair's summary never changes: the live job
# page, which rebuilds the report every few seconds, parses each pair's traces once.
# Keyed by (database URL, run A, run B).
_SUMMARIES: LruCache[tuple[str, int, int], DivergenceSummary] = LruCache(1024)


def data_hashes(*, session: Session, runs: Iterable[Run]) -> dict[int, str | None]:
    """The data hash each run's fingerprint recorded (None without one), in one query."""
    runs = list(runs)
    hashes = {run.fingerprint_hash for run in runs} - {None}
    by_fingerprint: dict[str, Any] = (
        {
            row.hash: row.data.get("data_hash")
            for row in session.execute(
                select(Fingerprint.hash, Fingerprint.data).where(Fingerprint.hash.in_(hashes))
            )
        }
        if hashes
        else {}
    )
    return {run.id: by_fingerprint.get(run.fingerprint_hash or "") for run in runs}


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
    traces = session.scalars(select(RunTrace).where(RunTrace.run_id.in_(by_id))).all()
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
    first = runs_service.get_run(session=session, run_id=run_a)
    second = runs_service.get_run(session=session, run_id=run_b)
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
    *, session: Session, runs: Sequence[Run], pairs: Sequence[tuple[int, int]]
) -> list[DivergenceSummary]:
    """The first divergence of each given run pair whose runs both have a trace."""
    pairs = list(pairs)[:REPORT_SEEDS]
    database = str(session.get_bind().engine.url)
    known = {
        pair: summary
        for pair in pairs
        if (summary := _SUMMARIES.get((database, *pair))) is not None
    }
    wanted = {run_id for pair in pairs if pair not in known for run_id in pair}
    traces = load_traces(session=session, runs=[run for run in runs if run.id in wanted])
    found: list[DivergenceSummary] = []
    for a, b in pairs:
        summary = known.get((a, b))
        if summary is None and a in traces and b in traces:
            summary = DivergenceSummary.model_validate(
                locate_divergence(traces[a], traces[b]).summary()
            )
            _SUMMARIES.put((database, a, b), summary)
        if summary is not None:
            found.append(summary)
    return found

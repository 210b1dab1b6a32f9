"""Queries of runs and their metric points, packed curves and counts (the only SQL on runs)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain, groupby, repeat

import numpy as np
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from seedlab.analysis.spread import CurveArrays, as_arrays
from seedlab.analysis.types import RunData
from seedlab.errors import NotFound
from seedlab.runs.models import MetricPoint, Run, RunAttempt, RunCurve, RunTrace
from seedlab.status import RunStatus

Curves = dict[str, list[tuple[int, float]]]


def get_run(*, session: Session, run_id: int) -> Run:
    """The run with its attempts and job, or NotFound."""
    # A query, not session.get: a run already in the identity map gets its relationships too.
    query = (
        select(Run)
        .where(Run.id == run_id)
        .options(selectinload(Run.attempts), selectinload(Run.job))
    )
    run = session.scalars(query).one_or_none()
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


def run_for_update(*, session: Session, run_id: int) -> Run:
    """The run locked until the transaction ends, or NotFound."""
    run = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).one_or_none()
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


def reread_run(*, session: Session, run_id: int) -> Run:
    """The run as the database has it now (after a Core UPDATE the identity map missed)."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


def has_queued_runs(*, session: Session, job_id: int) -> bool:
    """Whether any run of the job waits in the queue."""
    query = select(exists().where(Run.job_id == job_id, Run.status == RunStatus.QUEUED.value))
    return bool(session.scalar(query))


def open_attempt(
    *,
    session: Session,
    run: Run,
    agent_id: int,
    agent_name: str,
    credential: str | None,
    token_id: int | None,
    now: datetime,
) -> RunAttempt:
    """Record the run's current attempt as claimed by the agent, with its credential."""
    attempt = RunAttempt(
        run_id=run.id,
        attempt=run.attempt,
        agent_id=agent_id,
        agent_name=agent_name,
        credential=credential,
        token_id=token_id,
        started_at=now,
    )
    session.add(attempt)
    return attempt


def close_attempt(
    *, session: Session, run: Run, outcome: str, error: str | None, now: datetime
) -> None:
    """Close the run's current attempt with its outcome (no-op when it was never recorded)."""
    attempt = session.scalars(
        select(RunAttempt).where(RunAttempt.run_id == run.id, RunAttempt.attempt == run.attempt)
    ).one_or_none()
    if attempt is not None:
        attempt.ended_at = now
        attempt.outcome = outcome
        attempt.error = error


def store_trace(*, session: Session, trace: RunTrace) -> None:
    """Keep a succeeded attempt's trace (merge: a resent finish replaces, never duplicates)."""
    session.merge(trace)


_SQLITE_INSERT_POINTS = (
    "INSERT OR IGNORE INTO metric_point (run_id, attempt, key, step, value) VALUES (?, ?, ?, ?, ?)"
)
# One statement over three arrays: a single round trip however large the batch.
_POSTGRES_INSERT_POINTS = (
    "INSERT INTO metric_point (run_id, attempt, key, step, value) "
    "SELECT %s, %s, k, s, v FROM unnest(%s::text[], %s::int[], %s::float8[]) AS t(k, s, v) "
    "ON CONFLICT (run_id, attempt, key, step) DO NOTHING"
)


Series = tuple[str, Sequence[int], Sequence[float]]


def insert_series(*, session: Session, run_id: int, attempt: int, series: Sequence[Series]) -> None:
    """Insert metric series (key, steps, values); points already stored are skipped."""
    if not any(steps for _, steps, _ in series):
        return
    # Driver-level statements over plain values: several times faster than ORM or Core
    # parameter dicts for batches of thousands of points.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        keys = list(chain.from_iterable(repeat(key, len(steps)) for key, steps, _ in series))
        all_steps = list(chain.from_iterable(steps for _, steps, _ in series))
        all_values = list(chain.from_iterable(values for _, _, values in series))
        connection.exec_driver_sql(
            _POSTGRES_INSERT_POINTS, (run_id, attempt, keys, all_steps, all_values)
        )
    else:
        # Rows zipped at C speed, no Python loop per point (steps and values have equal lengths;
        # strict=False only because repeat() never ends).
        rows = list(
            chain.from_iterable(
                zip(repeat(run_id), repeat(attempt), repeat(key), steps, values, strict=False)
                for key, steps, values in series
            )
        )
        connection.exec_driver_sql(_SQLITE_INSERT_POINTS, rows)


def run_curves(*, session: Session, run: Run, keys: Sequence[str] | None = None) -> Curves:
    """Every metric series of the run's current attempt, ordered by step."""
    query = (
        select(MetricPoint.key, MetricPoint.step, MetricPoint.value)
        .where(MetricPoint.run_id == run.id, MetricPoint.attempt == run.attempt)
        .order_by(MetricPoint.key, MetricPoint.step)
    )
    if keys:
        query = query.where(MetricPoint.key.in_(keys))
    curves: Curves = defaultdict(list)
    for key, step, value in session.execute(query):
        curves[key].append((step, value))
    return dict(curves)


# How curves are packed into run_curve blobs: fixed width, little-endian, on every machine.
STEP_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f8")


def store_curves(*, session: Session, run: Run) -> None:
    """Pack the run's current-attempt series into run_curve rows (called when it finishes)."""
    session.execute(delete(RunCurve).where(RunCurve.run_id == run.id))
    query = (
        select(MetricPoint.key, MetricPoint.step, MetricPoint.value)
        .where(MetricPoint.run_id == run.id, MetricPoint.attempt == run.attempt)
        .order_by(MetricPoint.key, MetricPoint.step)
    )
    rows = [
        {
            "run_id": run.id,
            "key": key,
            "attempt": run.attempt,
            "steps": np.fromiter((p[1] for p in points), STEP_DTYPE, len(points)).tobytes(),
            "values": np.fromiter((p[2] for p in points), VALUE_DTYPE, len(points)).tobytes(),
        }
        for key, group in groupby(session.connection().execute(query), key=lambda row: row[0])
        for points in [list(group)]
    ]
    if rows:
        session.execute(insert(RunCurve), rows)


def _unpack(steps: bytes, values: bytes) -> CurveArrays:
    return np.frombuffer(steps, STEP_DTYPE), np.frombuffer(values, VALUE_DTYPE)


def _stored_keys(session: Session, job_id: int) -> dict[int, set[str]]:
    """Metric names of every run of the job whose current attempt has packed curves."""
    query = (
        select(RunCurve.run_id, RunCurve.key)
        .join(Run, (Run.id == RunCurve.run_id) & (Run.attempt == RunCurve.attempt))
        .where(Run.job_id == job_id)
    )
    stored: dict[int, set[str]] = {}
    for run_id, key in session.connection().execute(query):
        stored.setdefault(run_id, set()).add(key)
    return stored


def _job_series(
    session: Session, job_id: int, keys: Sequence[str] | None
) -> Iterator[tuple[int, str, CurveArrays | list[tuple[int, float]]]]:
    """(run id, key, curve) of every run of a job: packed curves where stored, else points."""
    packed = (
        select(RunCurve.run_id, RunCurve.key, RunCurve.steps, RunCurve.values)
        .join(Run, (Run.id == RunCurve.run_id) & (Run.attempt == RunCurve.attempt))
        .where(Run.job_id == job_id)
    )
    if keys:
        packed = packed.where(RunCurve.key.in_(keys))
    # A packed run has all its series packed, so one without the wanted key has no points for
    # it either: the runs seen here are all the points query needs to leave out.
    stored: set[int] = set()
    for run_id, key, steps, values in session.connection().execute(packed):
        stored.add(run_id)
        yield run_id, key, _unpack(steps, values)
    query = (
        select(MetricPoint.run_id, MetricPoint.key, MetricPoint.step, MetricPoint.value)
        .join(Run, (Run.id == MetricPoint.run_id) & (Run.attempt == MetricPoint.attempt))
        .where(Run.job_id == job_id)
        .order_by(MetricPoint.run_id, MetricPoint.key, MetricPoint.step)
    )
    if stored:
        query = query.where(Run.id.not_in(sorted(stored)))
    if keys:
        query = query.where(MetricPoint.key.in_(keys))
    # Core rows through the session's connection: no ORM row processing for 100,000s of points.
    for (run_id, key), rows in groupby(
        session.connection().execute(query), key=lambda row: (row[0], row[1])
    ):
        yield run_id, key, [(row[2], row[3]) for row in rows]


def job_curves(
    *, session: Session, job_id: int, keys: Sequence[str] | None = None
) -> dict[int, Curves]:
    """Metric series of every run of a job (current attempts only), keyed by run id.

    Finished runs are read from their packed curves, the others from metric points.
    """
    out: dict[int, Curves] = {}
    for run_id, key, curve in _job_series(session, job_id, keys):
        if isinstance(curve, tuple):
            curve = list(zip(curve[0].tolist(), curve[1].tolist(), strict=True))
        out.setdefault(run_id, {})[key] = curve
    # Run order, then key order within a run, whichever table each came from.
    return {run_id: dict(sorted(out[run_id].items())) for run_id in sorted(out)}


def job_curve_arrays(*, session: Session, job_id: int, key: str) -> dict[int, CurveArrays]:
    """One metric's series of every run of a job as step and value arrays, keyed by run id."""
    return {
        run_id: curve if isinstance(curve, tuple) else as_arrays(curve)
        for run_id, _, curve in _job_series(session, job_id, [key])
    }


def job_run_data(*, session: Session, job_id: int) -> list[RunData]:
    """Identity and status of every run of a job, without curves or the large JSON columns."""
    query = select(Run.id, Run.seed, Run.repeat, Run.status).where(Run.job_id == job_id)
    return [
        RunData(run_id=run_id, seed=seed, repeat=repeat, status=status)
        for run_id, seed, repeat, status in session.execute(query)
    ]


def job_metric_keys(*, session: Session, job_id: int) -> list[str]:
    """The metric names logged by any run of a job."""
    stored = _stored_keys(session, job_id)
    query = (
        select(MetricPoint.key)
        .join(Run, Run.id == MetricPoint.run_id)
        .where(Run.job_id == job_id)
        .distinct()
    )
    if stored:
        query = query.where(Run.id.not_in(list(stored)))
    return sorted(set(session.scalars(query)).union(*stored.values()))


def run_counts_by_job(*, session: Session, job_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Run counts per status for each job, from the (job_id, status) index."""
    counts: dict[int, dict[str, int]] = {job_id: {} for job_id in job_ids}
    if not job_ids:
        return counts
    query = (
        select(Run.job_id, Run.status, func.count())
        .where(Run.job_id.in_(job_ids))
        .group_by(Run.job_id, Run.status)
    )
    for job_id, status, n in session.execute(query):
        counts[job_id][status] = n
    return counts


def queued_runs_for_update(*, session: Session, job_id: int) -> list[Run]:
    """The job's queued runs, locked until the transaction ends."""
    query = (
        select(Run)
        .where(Run.job_id == job_id, Run.status == RunStatus.QUEUED.value)
        .with_for_update()
    )
    return list(session.scalars(query))


def traces(*, session: Session, run_ids: Sequence[int]) -> list[RunTrace]:
    """The stored traces of the given runs (runs without one are left out)."""
    if not run_ids:
        return []
    return list(session.scalars(select(RunTrace).where(RunTrace.run_id.in_(run_ids))))


def request_cancel_of_running(*, session: Session, job_id: int) -> None:
    """Flag the job's running runs so their agents stop them at the next heartbeat."""
    session.execute(
        update(Run)
        .where(Run.job_id == job_id, Run.status == RunStatus.RUNNING.value)
        .values(cancel_requested=True)
        .execution_options(synchronize_session=False)
    )


def count_runs(*, session: Session, job_id: int, variant: str, status: RunStatus) -> int:
    """How many of the job's runs of one variant have the status."""
    query = select(func.count()).where(
        Run.job_id == job_id, Run.variant == variant, Run.status == status.value
    )
    return session.scalar(query) or 0


def job_runs_current(*, session: Session, job_id: int) -> list[Run]:
    """The job's runs in creation order, re-read from the database (not the identity map)."""
    return list(
        session.scalars(
            select(Run)
            .where(Run.job_id == job_id)
            .order_by(Run.id)
            .execution_options(populate_existing=True)
        )
    )

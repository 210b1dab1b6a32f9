"""Runs as the API and the analysis see them: summaries, details, downsampled metric series."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from seedlab.analysis.downsample import downsample
from seedlab.analysis.types import RunData
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import Run
from seedlab.runs.repository import Curves
from seedlab.runs.schemas import AttemptRead, MetricSeries, RunMetrics, RunRead, RunSummary


def run_summary(run: Run) -> RunSummary:
    """A run as it appears in reports."""
    return RunSummary(
        id=run.id,
        seed=run.seed,
        repeat=run.repeat,
        variant=run.variant,
        init_seed=run.seed,
        order_seed=run.seed if run.order_seed is None else run.order_seed,
        split_seed=run.seed if run.split_seed is None else run.split_seed,
        status=run.status,
        attempt=run.attempt,
        epoch=run.epoch,
        epochs=run.epochs_total,
        final_metrics=run.final_metrics,
        weights_checksum=run.weights_checksum,
        fingerprint_hash=run.fingerprint_hash,
        error=run.error,
        experiment_version=run.experiment_version,
        warnings=list(run.warnings or []),
    )


def run_read(run: Run) -> RunRead:
    """A run with everything its page shows."""
    return RunRead(
        **run_summary(run).model_dump(),
        job_id=run.job_id,
        experiment=run.job.experiment_name,
        max_attempts=run.max_attempts,
        isolation=run.isolation,
        isolation_reason=run.isolation_reason,
        applied_profile=run.applied_profile,
        epoch_checksums=run.epoch_checksums,
        traceback=run.traceback,
        seconds=run.seconds,
        seconds_per_epoch=run.seconds_per_epoch,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        attempts=[
            AttemptRead(
                attempt=a.attempt,
                agent_id=a.agent_id,
                started_at=a.started_at,
                ended_at=a.ended_at,
                outcome=a.outcome,
                error=a.error,
            )
            for a in run.attempts
        ],
    )


def run_metrics(
    *, session: Session, run_id: int, keys: Sequence[str] | None, max_points: int
) -> RunMetrics:
    """The run's metric series, each downsampled to at most max_points."""
    run = runs_repository.get_run(session=session, run_id=run_id)
    curves = runs_repository.run_curves(session=session, run=run, keys=keys)
    return RunMetrics(
        run_id=run.id,
        attempt=run.attempt,
        series=[
            MetricSeries(key=key, points=downsample(points, max_points), total_points=len(points))
            for key, points in sorted(curves.items())
        ],
    )


def as_run_data(run: Run, curves: Curves | None) -> RunData:
    """The plain-data view of a run the pure analysis functions take."""
    return RunData(
        run_id=run.id,
        seed=run.seed,
        repeat=run.repeat,
        status=run.status,
        final_metrics=dict(run.final_metrics or {}),
        weights_checksum=run.weights_checksum,
        epoch_checksums=list(run.epoch_checksums or []),
        curves=curves or {},
    )

"""Runs as the API and the analysis see them: summaries, details, downsampled metric series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.downsample import downsample
from seedlab.analysis.types import RunData
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import Run
from seedlab.runs.repository import Curves
from seedlab.runs.schemas import AttemptRead, MetricSeries, RunMetrics, RunRead, RunSummary
from seedlab.status import RunStatus, transition_run


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
        **_writer(run),
    )


def writer_text(run: Run) -> str | None:
    """Who wrote the run's current attempt, in words: 'agent NAME (id N) with token #T'."""
    writer = _writer(run)
    if not writer:
        return None
    how = {
        "token": f"with token #{writer['token_id']}",
        "shared": "with the shared agent token",
        "anonymous": "without a token (local)",
    }.get(writer["credential"] or "", "before agents were bound")
    return f"agent {writer['agent_name'] or '?'} (id {writer['agent_id']}) {how}"


def _writer(run: Run) -> dict[str, Any]:
    """Provenance of the run's current attempt: the agent and credential that hold or wrote it."""
    current = next((a for a in run.attempts if a.attempt == run.attempt), None)
    if current is None:
        return {}
    return {
        "agent_id": current.agent_id,
        "agent_name": current.agent_name,
        "credential": current.credential,
        "token_id": current.token_id,
    }


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
        phases=run.phases,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        attempts=[
            AttemptRead(
                attempt=a.attempt,
                agent_id=a.agent_id,
                agent_name=a.agent_name,
                credential=a.credential,
                token_id=a.token_id,
                started_at=a.started_at,
                ended_at=a.ended_at,
                outcome=a.outcome,
                error=a.error,
            )
            for a in run.attempts
        ],
    )


def read_run(*, session: Session, run_id: int) -> RunRead:
    """A run with everything its page shows, or NotFound."""
    return run_read(runs_repository.get_run(session=session, run_id=run_id))


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


# The writes of a run's columns while agents work on it: the queue decides when, these decide
# what each event sets.


def set_progress(run: Run, *, epoch: int | None, epochs: int | None) -> None:
    """Record the epoch reached (never backwards) and the number of epochs."""
    if epoch is not None and (run.epoch is None or epoch > run.epoch):
        run.epoch = epoch
    if epochs is not None:
        run.epochs_total = epochs


def extend_lease(
    run: Run, *, lease_expires_at: datetime, epoch: int | None, epochs: int | None
) -> None:
    """A heartbeat: the lease runs on, with the progress it reported."""
    run.lease_expires_at = lease_expires_at
    set_progress(run, epoch=epoch, epochs=epochs)


def record_started(
    run: Run,
    *,
    applied_profile: dict[str, Any],
    fingerprint_hash: str,
    isolation: str | None,
    isolation_reason: str | None,
    experiment_version: str | None,
) -> None:
    """What the run process applied, where it ran, and which experiment version it loaded."""
    run.applied_profile = applied_profile
    run.fingerprint_hash = fingerprint_hash
    run.isolation = isolation
    run.isolation_reason = isolation_reason
    run.experiment_version = experiment_version


def record_outcome(
    run: Run,
    *,
    status: RunStatus,
    now: datetime,
    final_metrics: dict[str, float] | None,
    weights_checksum: str | None,
    epoch_checksums: list[str] | None,
    predictions: dict[str, Any] | None,
    warnings: list[dict[str, str]] | None,
    seconds: float | None,
    seconds_per_epoch: float | None,
    error: str | None,
    traceback: str | None,
    phases: dict[str, float | None] | None = None,
) -> None:
    """Close the run with its outcome (succeeded, failed or cancelled) and what it reported."""
    transition_run(run, status)
    run.finished_at = now
    run.lease_expires_at = None
    run.final_metrics = final_metrics
    run.weights_checksum = weights_checksum
    run.epoch_checksums = epoch_checksums
    run.predictions = predictions
    run.warnings = warnings
    run.seconds = seconds
    run.seconds_per_epoch = seconds_per_epoch
    run.phases = phases
    run.error = error
    run.traceback = traceback
    if status is RunStatus.SUCCEEDED and epoch_checksums:
        run.epoch = len(epoch_checksums)


def cancel_runs(*, session: Session, job_id: int, now: datetime) -> None:
    """Cancel a job's queued runs at once; ask its running ones to stop (their agents do)."""
    for run in runs_repository.queued_runs_for_update(session=session, job_id=job_id):
        transition_run(run, RunStatus.CANCELLED)
        run.finished_at = now
    runs_repository.request_cancel_of_running(session=session, job_id=job_id)


def release(run: Run, *, lost: str, now: datetime) -> None:
    """The run lost its agent: cancelled if asked, failed when out of attempts, else queued."""
    run.lease_expires_at = None
    run.agent_id = None
    if run.cancel_requested:
        transition_run(run, RunStatus.CANCELLED)
        run.finished_at = now
    elif run.attempt >= run.max_attempts:
        transition_run(run, RunStatus.FAILED)
        run.finished_at = now
        run.error = f"{lost}; gave up after {run.max_attempts} attempts"
    else:
        transition_run(run, RunStatus.QUEUED)
        run.epoch = None

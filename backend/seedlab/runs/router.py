"""Run endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Query

from seedlab.deps import IdPath, ReadSession
from seedlab.runs import service as runs_service
from seedlab.runs.schemas import RunMetrics, RunRead

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.get("/{run_id}")
def get_run(run_id: IdPath, session: ReadSession) -> RunRead:
    """A run: status, attempts, final metrics, applied profile, error and traceback."""
    return runs_service.read_run(session=session, run_id=run_id)


@router.get("/{run_id}/metrics")
def run_metrics(
    run_id: IdPath,
    session: ReadSession,
    key: list[str] | None = Query(None),
    max_points: int = Query(1000, ge=10, le=100_000),
) -> RunMetrics:
    """Metric series of the run's current attempt (downsampled beyond max_points)."""
    return runs_service.run_metrics(session=session, run_id=run_id, keys=key, max_points=max_points)

"""Comparison endpoint: is job B better than job A beyond seed noise?"""

from __future__ import annotations

from fastapi import APIRouter, Query

from seedlab.compare import service as compare_service
from seedlab.compare.schemas import CompareResult
from seedlab.deps import MAX_ID, ReadSession

router = APIRouter(tags=["compare"])


@router.get("/api/v1/compare")
def compare(
    session: ReadSession,
    a: int = Query(..., ge=1, le=MAX_ID, description="Job A, the baseline"),
    b: int = Query(..., ge=1, le=MAX_ID, description="Job B, the candidate"),
    metric: str = Query(
        ..., min_length=1, max_length=200, description="Final metric, e.g. val_auc"
    ),
    higher_is_better: bool | None = Query(
        None, description="Default: false for loss/error-like names, else true"
    ),
) -> CompareResult:
    """Job B against job A on one final metric, one succeeded run per seed: tests, CI, effect."""
    return compare_service.compare_jobs(
        session=session, job_a=a, job_b=b, metric=metric, higher_is_better=higher_is_better
    )

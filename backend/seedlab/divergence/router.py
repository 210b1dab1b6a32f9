"""First-divergence endpoint (the run-pair page shows it next to the environment diff)."""

from __future__ import annotations

from fastapi import APIRouter

from seedlab.deps import IdPath, ReadSession
from seedlab.divergence import service
from seedlab.divergence.schemas import RunDivergence

router = APIRouter(tags=["divergence"])


@router.get("/api/v1/runs/{run_a}/divergence/{run_b}")
def run_divergence(run_a: IdPath, run_b: IdPath, session: ReadSession) -> RunDivergence:
    """The first epoch and step where two runs' weights differ, its cause, and the timeline."""
    return service.run_divergence(session=session, run_a=run_a, run_b=run_b)

"""Fingerprint endpoints: one fingerprint by hash, two runs' diff, a job's variation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from seedlab.deps import IdPath, ReadSession
from seedlab.fingerprints import service as fingerprints_service
from seedlab.fingerprints.schemas import RunDiff

router = APIRouter(tags=["fingerprints"])


@router.get("/api/v1/fingerprints/{fingerprint_hash}")
def get_fingerprint(fingerprint_hash: str, session: ReadSession) -> dict[str, Any]:
    """The environment a run process saw, by content hash."""
    return fingerprints_service.get_fingerprint(session=session, fingerprint_hash=fingerprint_hash)


@router.get("/api/v1/runs/{run_a}/diff/{run_b}")
def diff_runs(run_a: IdPath, run_b: IdPath, session: ReadSession) -> RunDiff:
    """Fingerprint fields and applied toggles that differ between two runs, riskiest first."""
    return fingerprints_service.diff_runs(session=session, run_a=run_a, run_b=run_b)

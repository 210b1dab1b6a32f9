"""Fingerprint endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from seedlab.deps import ReadSession
from seedlab.fingerprints import service as fingerprints_service

router = APIRouter(prefix="/api/v1/fingerprints", tags=["fingerprints"])


@router.get("/{fingerprint_hash}")
def get_fingerprint(fingerprint_hash: str, session: ReadSession) -> dict[str, Any]:
    """The environment a run process saw, by content hash."""
    fingerprint = fingerprints_service.get_fingerprint(
        session=session, fingerprint_hash=fingerprint_hash
    )
    return {"hash": fingerprint.hash, "data": fingerprint.data}

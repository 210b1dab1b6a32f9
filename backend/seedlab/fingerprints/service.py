"""Fingerprint lookups (server side)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from seedlab.errors import NotFound
from seedlab.fingerprints.models import Fingerprint


def get_fingerprint(*, session: Session, fingerprint_hash: str) -> Fingerprint:
    """The fingerprint with that content hash, or NotFound."""
    fingerprint = session.get(Fingerprint, fingerprint_hash)
    if fingerprint is None:
        raise NotFound(f"fingerprint {fingerprint_hash} does not exist")
    return fingerprint

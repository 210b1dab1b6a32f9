"""Queries of content-addressed fingerprints (the only SQL on the fingerprint table)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from seedlab.db import utcnow
from seedlab.errors import NotFound
from seedlab.fingerprints.models import Fingerprint


def get_fingerprint(*, session: Session, fingerprint_hash: str) -> Fingerprint:
    """The fingerprint with that content hash, or NotFound."""
    fingerprint = session.get(Fingerprint, fingerprint_hash)
    if fingerprint is None:
        raise NotFound(f"fingerprint {fingerprint_hash} does not exist")
    return fingerprint


def data_by_hash(*, session: Session, hashes: Collection[str]) -> dict[str, dict[str, Any]]:
    """The data of each stored fingerprint among hashes, in one query."""
    if not hashes:
        return {}
    query = select(Fingerprint.hash, Fingerprint.data).where(Fingerprint.hash.in_(hashes))
    return {row.hash: row.data for row in session.execute(query)}


def store(*, session: Session, fingerprint_hash: str, data: dict[str, Any]) -> None:
    """Store a fingerprint once per content hash (a second store of the same hash is a no-op)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Fingerprint)
        .values(hash=fingerprint_hash, data=data, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["hash"])
    )

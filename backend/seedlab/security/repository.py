"""SQL on signin_session: open, find and end browser sessions."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from seedlab.db import utcnow
from seedlab.security.models import SigninSession


def key_hash(key: str) -> str:
    """What is stored of a session key: a reader of the database cannot forge a cookie."""
    return hashlib.sha256(key.encode()).hexdigest()


def open_session(*, session: Session, key: str, token_id: int, max_age: float) -> None:
    """Store a new session (and drop expired ones: sign-in is when sessions are made)."""
    now = utcnow()
    session.execute(delete(SigninSession).where(SigninSession.expires_at < now))
    session.add(
        SigninSession(
            key_hash=key_hash(key),
            token_id=token_id,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    session.flush()


def session_token_id(*, session: Session, key: str) -> int | None:
    """The token id of a live session with this key, or None (signed out, expired, unknown)."""
    found = session.scalar(
        select(SigninSession.token_id).where(
            SigninSession.key_hash == key_hash(key), SigninSession.expires_at > utcnow()
        )
    )
    return found


def end_session(*, session: Session, key: str) -> None:
    """Delete the session with this key (sign-out)."""
    session.execute(delete(SigninSession).where(SigninSession.key_hash == key_hash(key)))

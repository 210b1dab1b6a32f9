"""Browser sign-in sessions as pages and the middleware use them: open, look up, end."""

from __future__ import annotations

from sqlalchemy.orm import Session

from seedlab.security import repository as security_repository
from seedlab.security.sessions import MAX_AGE_SECONDS


def sign_in(*, session: Session, key: str, token_id: int) -> None:
    """Store a session for the token, valid as long as its cookie (MAX_AGE_SECONDS)."""
    security_repository.open_session(
        session=session, key=key, token_id=token_id, max_age=MAX_AGE_SECONDS
    )


def signed_in_token_id(*, session: Session, key: str) -> int | None:
    """The token a live session signed in with, or None (signed out, expired, unknown)."""
    return security_repository.session_token_id(session=session, key=key)


def sign_out(*, session: Session, key: str) -> None:
    """End the session server-side: every copy of its cookie stops working."""
    security_repository.end_session(session=session, key=key)

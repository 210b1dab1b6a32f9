"""Creating, listing, revoking and checking API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from seedlab.db import utcnow
from seedlab.errors import Conflict, NotFound
from seedlab.tokens import repository as tokens_repository
from seedlab.tokens.models import ApiToken, Scope
from seedlab.tokens.schemas import TokenCreated, TokenRead

# Tokens carry this prefix so a leaked one is recognisable (secret scanners, logs).
PREFIX = "sl_"
# last_used_at is written at most this often per token: one write per API call would serialise
# every reader behind SQLite's single writer.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, session: Session, name: str, scope: Scope) -> TokenCreated:
    """Store a new token's hash; the returned secret is never stored or shown again."""
    if tokens_repository.by_name(session=session, name=name) is not None:
        raise Conflict(f"a token named {name!r} exists; pick another name or revoke it first")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope, token_hash=hash_token(secret))
    tokens_repository.add(session=session, token=token)
    return TokenCreated(**_read(token).model_dump(), token=secret)


def list_tokens(*, session: Session) -> list[TokenRead]:
    """Every token, revoked ones included, oldest first."""
    return [_read(t) for t in tokens_repository.all_tokens(session=session)]


def revoke_token(*, session: Session, name_or_id: str) -> TokenRead:
    """Revoke a token by name or id; revoking twice keeps the first time."""
    token = tokens_repository.by_name(session=session, name=name_or_id)
    if token is None and name_or_id.isdigit() and len(name_or_id) < 19:
        token = tokens_repository.by_id(session=session, token_id=int(name_or_id))
    if token is None:
        raise NotFound(
            f"no token named or numbered {name_or_id!r}; `seedlab token list` shows them"
        )
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return _read(token)


def authenticate(*, session: Session, secret: str) -> ApiToken | None:
    """The live token with this secret, or None (reads only)."""
    digest = hash_token(secret)
    token = tokens_repository.by_hash(session=session, token_hash=digest)
    if token is None or token.revoked_at is not None:
        return None
    # The lookup is by hash; compare_digest keeps the final check constant-time anyway.
    return token if hmac.compare_digest(token.token_hash, digest) else None


def needs_touch(token: ApiToken) -> bool:
    """Whether the token's recorded last use is old enough to be written again."""
    return token.last_used_at is None or utcnow() - token.last_used_at > LAST_USED_RESOLUTION


def touch_token(*, session: Session, token_id: int) -> None:
    """Record that the token was just used."""
    token = tokens_repository.by_id(session=session, token_id=token_id)
    if token is not None:
        token.last_used_at = utcnow()
        session.flush()


def _read(token: ApiToken) -> TokenRead:
    return TokenRead.model_validate(token, from_attributes=True)


def live_token(*, session: Session, token_id: int) -> ApiToken | None:
    """The token with this id unless it was revoked."""
    token = tokens_repository.by_id(session=session, token_id=token_id)
    return None if token is None or token.revoked_at is not None else token

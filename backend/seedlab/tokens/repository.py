"""Queries of API tokens (the only SQL on the api_token table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from seedlab.tokens.models import ApiToken


def add(*, session: Session, token: ApiToken) -> ApiToken:
    """Store a new token and give it its id."""
    session.add(token)
    session.flush()
    return token


def by_name(*, session: Session, name: str) -> ApiToken | None:
    """The token of this name, revoked or not."""
    return session.scalar(select(ApiToken).where(ApiToken.name == name))


def by_id(*, session: Session, token_id: int) -> ApiToken | None:
    """The token of this id, revoked or not."""
    return session.get(ApiToken, token_id)


def by_hash(*, session: Session, token_hash: str) -> ApiToken | None:
    """The token whose secret hashes to this digest."""
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def all_tokens(*, session: Session) -> list[ApiToken]:
    """Every token, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))

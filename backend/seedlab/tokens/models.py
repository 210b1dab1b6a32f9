"""API tokens as stored: only the SHA-256 of the secret is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from seedlab.db import Base, UTCDateTime, utcnow

Scope = Literal["read", "submit", "agent", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)


class ApiToken(Base):
    """A named credential with one scope; revoked tokens stay listed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

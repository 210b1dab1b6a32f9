"""Browser sessions as stored: sign-out deletes the row, so the cookie stops working at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from seedlab.db import Base, UTCDateTime, utcnow


class SigninSession(Base):
    """One signed-in browser: the SHA-256 of the cookie's session key, its token, its expiry."""

    __tablename__ = "signin_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(
        ForeignKey("api_token.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

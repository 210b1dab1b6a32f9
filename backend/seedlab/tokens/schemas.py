"""Token request and response shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from seedlab.tokens.models import Scope


class TokenCreate(BaseModel):
    """A new token's name and scope."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    scope: Scope


class TokenRead(BaseModel):
    """A token as listed: never its secret."""

    id: int
    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    """A token just created: the secret, shown this once."""

    token: str

"""Agents known to the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from seedlab.db import Base, UTCDateTime, utcnow


class Agent(Base):
    """A process that claims runs over HTTP and executes them."""

    __tablename__ = "agent"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int | None]
    version: Mapped[str] = mapped_column(String(40))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Capabilities sent at registration; claims only take runs these satisfy.
    cpus: Mapped[int | None] = mapped_column(default=None)
    gpus: Mapped[list[int]] = mapped_column(JSON, default=list)
    gpu_count: Mapped[int] = mapped_column(default=0, server_default="0")
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The credential that registered it ("token", "shared" or "anonymous", see
    # queue.schemas.AgentCredential) and the API token's id; only that credential may act as
    # this agent. Null for agents registered before 0013 (unbound).
    credential: Mapped[str | None] = mapped_column(String(20), default=None)
    token_id: Mapped[int | None] = mapped_column(default=None)

"""The experiments catalog as stored for pages and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from seedlab.db import Base, UTCDateTime, utcnow


class ExperimentRecord(Base):
    """One experiment the agents can run, synced from the code catalog at start."""

    __tablename__ = "experiment"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    entrypoint: Mapped[str] = mapped_column(String(300))
    params_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The metrics its version of the newest job declares bounded in [0, 1]: what that job's
    # report reads once no agent advertises the version any more. Null before 0017 (none).
    bounded_metrics: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class AgentCatalog(Base):
    """What one agent advertised when it registered: where it loaded experiments from."""

    __tablename__ = "agent_catalog"

    # The agent table belongs to queue/, which imports this package: named by string only.
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True
    )
    advertised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # [{source, ok, error, experiments}] as the agent reported them, in its loading order.
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    experiments: Mapped[list[AgentExperiment]] = relationship(
        back_populates="catalog",
        cascade="all, delete-orphan",
        order_by="AgentExperiment.name",
        lazy="raise",
    )


class AgentExperiment(Base):
    """One experiment an agent advertised: the server validates jobs against its JSON schema."""

    __tablename__ = "agent_experiment"
    __table_args__ = (Index("ix_agent_experiment_name_version", "name", "version"),)

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent_catalog.agent_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    params_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    defaults: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(300))
    # ["init", "order", "split"] or part of it; null for advertisements before 0011 (init only).
    seed_sources: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # Metric names it declares bounded in [0, 1]; null for advertisements before 0017 (none).
    bounded_metrics: Mapped[list[str] | None] = mapped_column(JSON, default=None)

    catalog: Mapped[AgentCatalog] = relationship(back_populates="experiments", lazy="raise")

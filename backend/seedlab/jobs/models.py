"""Jobs: one submission of an experiment with a seed plan and a profile."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from seedlab.db import Base, UTCDateTime, utcnow
from seedlab.status import JobStatus

if TYPE_CHECKING:
    from seedlab.runs.models import Run

_JOB_STATUSES = ", ".join(f"'{s.value}'" for s in JobStatus)
JobKind = Literal["standard", "audit", "decompose", "sweep"]
JOB_KINDS: tuple[str, ...] = get_args(JobKind)
_JOB_KINDS = ", ".join(f"'{kind}'" for kind in JOB_KINDS)


class Job(Base):
    """A submission; expands into one run per (seed, repeat)."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"status IN ({_JOB_STATUSES})", name="status_allowed"),
        CheckConstraint(f"kind IN ({_JOB_KINDS})", name="kind_allowed"),
        Index("ix_job_created_at", "created_at"),
        Index("ix_job_verdict", "verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="standard", server_default="standard")
    audit: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    experiment_name: Mapped[str] = mapped_column(ForeignKey("experiment.name"))
    experiment_version: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed_plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed_plan_text: Mapped[str] = mapped_column(String(200))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile_name: Mapped[str] = mapped_column(String(60))
    tolerance: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    # Written once when the job reaches a terminal status; the report recomputes it live.
    verdict: Mapped[str | None] = mapped_column(String(30), default=None)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    run_count: Mapped[int]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # What an agent needs to take the job's runs: {"gpu": N, "labels": [...]}, or None.
    requires: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The same two, as columns the claim query compares with the agent's capabilities.
    required_gpus: Mapped[int] = mapped_column(default=0, server_default="0")
    required_cpus: Mapped[int] = mapped_column(default=1, server_default="1")
    required_labels: Mapped[list[JobLabel]] = relationship(
        cascade="all, delete-orphan", lazy="raise"
    )
    # A `BASE:auto` plan's state: {until, metric, op, target, max_seeds, base, rounds: [{seeds,
    # halfwidth}], met, reason}; None for a fixed seed plan. Rounds are decided from the runs.
    sequential: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # A sweep's race: {metric, mode, margin, race, alpha, max_seeds, base, repeats, configs
    # (the swept values), schedule, rounds: [{seeds, alive}], alive, eliminated_after, reason};
    # None for every other kind. Rounds are decided from the runs, as sequential plans are.
    sweep: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    runs: Mapped[list[Run]] = relationship(
        back_populates="job", order_by="Run.id", cascade="all, delete-orphan", lazy="raise"
    )


class JobLabel(Base):
    """A label an agent must carry to take the job's runs (one row per label)."""

    __tablename__ = "job_label"

    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), primary_key=True)

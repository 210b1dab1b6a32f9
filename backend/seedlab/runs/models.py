"""Runs, their attempts and their metric points."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from seedlab.db import Base, UTCDateTime, utcnow
from seedlab.status import RunStatus

if TYPE_CHECKING:
    from seedlab.jobs.models import Job

_RUN_STATUSES = ", ".join(f"'{s.value}'" for s in RunStatus)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for many points.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Run(Base):
    """One execution of one seed; its attempt number fences writes from lost agents."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(f"status IN ({_RUN_STATUSES})", name="status_allowed"),
        CheckConstraint("attempt >= 0", name="attempt_not_negative"),
        Index("ix_run_status_id", "status", "id"),
        Index("ix_run_job_id_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    seed: Mapped[int] = mapped_column(BigInteger)
    repeat: Mapped[int]
    # Audit jobs run the same seed under several profiles: the variant names the profile and
    # `profile` overrides the job's for this run.
    variant: Mapped[str | None] = mapped_column(String(200), default=None)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Decompose jobs vary one source of randomness at a time: `seed` is always the init seed
    # (Python, NumPy, TF's global seed); these are the data-order and split seeds when the run
    # has its own (null: they follow `seed`, as in every other job).
    order_seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    split_seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Sweep jobs run several configurations: the index of this run's configuration in
    # job.sweep["configs"] and its full parameters (null: the job's params, every other kind).
    config: Mapped[int | None] = mapped_column(default=None)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED.value)
    attempt: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    epoch: Mapped[int | None] = mapped_column(default=None)
    epochs_total: Mapped[int | None] = mapped_column(default=None)
    final_metrics: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    weights_checksum: Mapped[str | None] = mapped_column(String(64), default=None)
    epoch_checksums: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # What the run process noticed ({code, where, message}); null for runs before 0009.
    warnings: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=None)
    # Validation scores {ids, scores, labels} for seed churn; loaded only by the job report.
    predictions: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None, deferred=True)
    applied_profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    fingerprint_hash: Mapped[str | None] = mapped_column(
        ForeignKey("fingerprint.hash"), default=None
    )
    isolation: Mapped[str | None] = mapped_column(String(20), default=None)
    isolation_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The experiment version the run process loaded (the job records the one it asked for).
    experiment_version: Mapped[str | None] = mapped_column(String(40), default=None)
    seconds: Mapped[float | None] = mapped_column(Float, default=None)
    seconds_per_epoch: Mapped[float | None] = mapped_column(Float, default=None)
    # Where the time went, as the run process measured it: {setup, build, training} seconds
    # (see runs.schemas.RunPhases); the rest of `seconds` is process start and exit.
    phases: Mapped[dict[str, float | None] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)

    # lazy="raise": every relationship is loaded explicitly by the repository that reads it
    # (selectinload), so a query hidden in an attribute access fails loudly instead.
    job: Mapped[Job] = relationship(back_populates="runs", lazy="raise")
    attempts: Mapped[list[RunAttempt]] = relationship(
        back_populates="run",
        order_by="RunAttempt.attempt",
        cascade="all, delete-orphan",
        lazy="raise",
    )


class RunAttempt(Base):
    """One claim of a run by an agent, with how it ended."""

    __tablename__ = "run_attempt"
    __table_args__ = (UniqueConstraint("run_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    outcome: Mapped[str | None] = mapped_column(String(40), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Provenance: the agent's name and the credential it wrote this attempt with (copied at the
    # claim, so they stay true when the agent row or the token changes). Null before 0013.
    agent_name: Mapped[str | None] = mapped_column(String(200), default=None)
    credential: Mapped[str | None] = mapped_column(String(20), default=None)
    token_id: Mapped[int | None] = mapped_column(default=None)

    run: Mapped[Run] = relationship(back_populates="attempts", lazy="raise")


class RunTrace(Base):
    """Per-layer weight checksums of a run's succeeded attempt: the first-divergence evidence.

    Kept out of the run row so lists and reports never load it. Every run has the per-epoch
    part; `steps` is filled only when the profile asked for per-batch tracing.
    """

    __tablename__ = "run_trace"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int]
    # Names of the layers that own weights, in model order; every checksum list follows it.
    layers: Mapped[list[str]] = mapped_column(JSON)
    # Per-layer checksums before the first optimizer step.
    initial: Mapped[list[str]] = mapped_column(JSON)
    # epochs[i]: per-layer checksums after epoch i + 1.
    epochs: Mapped[list[list[str]]] = mapped_column(JSON)
    # steps[i]: [epoch, step, input batch checksum, per-layer checksums after that step].
    steps: Mapped[list[list[Any]] | None] = mapped_column(JSON, default=None)
    steps_truncated: Mapped[bool] = mapped_column(default=False)


class MetricPoint(Base):
    """One logged value: (run, attempt, key, step) is unique so a resent batch is harmless."""

    __tablename__ = "metric_point"
    __table_args__ = (
        # Serves reads by (run_id, attempt, key) ordered by step as well as de-duplication.
        UniqueConstraint("run_id", "attempt", "key", "step"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    key: Mapped[str] = mapped_column(String(100))
    step: Mapped[int]
    value: Mapped[float] = mapped_column(Float)


class RunCurve(Base):
    """One metric series of a finished run's last attempt, packed once for fast reads.

    Written when the run finishes; reads of finished runs (the overlay, the report) take these
    few blobs instead of thousands of metric_point rows. Runs still running, and runs that
    ended without a finish call (lease lost for good), have no curve and are read from points.
    """

    __tablename__ = "run_curve"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    attempt: Mapped[int]
    # Little-endian int64 steps and float64 values, in step order (numpy.frombuffer reads them).
    steps: Mapped[bytes] = mapped_column(LargeBinary)
    values: Mapped[bytes] = mapped_column(LargeBinary)

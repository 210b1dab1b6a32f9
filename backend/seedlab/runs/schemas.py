"""Run response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RunSummary(BaseModel):
    """A run as it appears in a job report."""

    id: int
    seed: int
    repeat: int
    variant: str | None = None
    # The seed of each source of randomness: init is `seed`; order and split follow it unless
    # the run had its own (decompose jobs).
    init_seed: int | None = None
    order_seed: int | None = None
    split_seed: int | None = None
    status: str
    attempt: int
    epoch: int | None
    epochs: int | None
    final_metrics: dict[str, float] | None
    weights_checksum: str | None
    fingerprint_hash: str | None
    error: str | None
    # The experiment version the run process loaded; null until it started.
    experiment_version: str | None = None
    warnings: list[dict[str, str]] = Field(
        default_factory=list, description="What the run process noticed: {code, where, message}"
    )
    # Provenance of the current attempt (null before it was claimed, or before 0013): the
    # agent that holds or wrote it and the credential it used (see docs/security.md).
    agent_id: int | None = None
    agent_name: str | None = None
    credential: str | None = None
    token_id: int | None = None


class AttemptRead(BaseModel):
    """One claim of a run."""

    attempt: int
    agent_id: int | None
    # Provenance: who wrote this attempt (null for attempts before agents were bound).
    agent_name: str | None = None
    credential: str | None = Field(
        None, description="'token' (an API token), 'shared' (SEEDLAB_AGENT_TOKEN) or 'anonymous'"
    )
    token_id: int | None = None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    error: str | None


class RunRead(RunSummary):
    """A run with everything its page shows."""

    job_id: int
    experiment: str
    max_attempts: int
    isolation: str | None
    isolation_reason: str | None
    applied_profile: dict[str, Any] | None
    epoch_checksums: list[str] | None
    traceback: str | None
    seconds: float | None
    seconds_per_epoch: float | None
    phases: dict[str, float | None] | None = Field(
        default=None,
        description="where the time went, measured in the run process: setup (profile applied, "
        "experiment imported), build (data, model, compile) and training (the epochs), in "
        "seconds; the rest of `seconds` is process start and exit; null before 0018",
    )
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: list[AttemptRead]


class MetricSeries(BaseModel):
    """Points of one metric of one run, possibly downsampled."""

    key: str
    points: list[tuple[int, float]]
    total_points: int


class RunMetrics(BaseModel):
    """All metric series of a run's current attempt."""

    run_id: int
    attempt: int
    series: list[MetricSeries]

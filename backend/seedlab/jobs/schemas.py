"""Job request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from seedlab.runner.profile import PresetName, ProfileSpec
from seedlab.runs.schemas import RunSummary


class JobCreate(BaseModel):
    """A job submission."""

    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(description="Name of a catalog experiment, e.g. credit_risk_mlp")
    params: dict[str, Any] = Field(default_factory=dict, description="Experiment parameters")
    seeds: str | list[int] | dict[str, Any] = Field(
        default="42:3x2",
        description="Seed plan: 'BASE:COUNTxREPEATS', '1,7,9x2', a list, or "
        "{base, count, repeats} / {seeds, repeats}",
    )
    profile: PresetName | ProfileSpec = Field(
        default="full", description="Preset name (full, seeds_only, none) or custom toggles"
    )
    tolerance: dict[str, float] | None = Field(
        default=None, description="Per-metric absolute tolerance for a within_tolerance verdict"
    )
    label: str | None = Field(default=None, max_length=200)


class JobRead(BaseModel):
    """A job as listed and fetched."""

    id: int
    experiment: str
    experiment_version: str
    label: str | None
    params: dict[str, Any]
    seed_plan: str
    seeds: list[int]
    repeats: int
    profile_name: str
    profile: dict[str, Any]
    tolerance: dict[str, float] | None
    status: str
    run_count: int
    run_counts: dict[str, int]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobList(BaseModel):
    """A page of jobs, newest first."""

    items: list[JobRead]
    total: int
    limit: int
    offset: int


class MetricSpreadOut(BaseModel):
    """Spread of one final metric across seeds (one run per seed)."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    range: float | None
    ci95: list[float] | None
    seeds: list[int] = Field(default_factory=list)


class JobReport(BaseModel):
    """Everything a pipeline needs: status, verdict with evidence, spread, runs."""

    id: int
    status: str
    experiment: str
    experiment_version: str
    params: dict[str, Any]
    seed_plan: str
    profile_name: str
    profile: dict[str, Any]
    tolerance: dict[str, float] | None
    verdict: str
    verdict_evidence: dict[str, Any]
    metrics: dict[str, MetricSpreadOut]
    run_counts: dict[str, int]
    runs: list[RunSummary]
    created_at: datetime
    finished_at: datetime | None

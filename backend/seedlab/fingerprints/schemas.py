"""Response shapes of environment diffs between runs and variation within a job."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Risk = Literal["high", "low", "none"]


class FieldDiffOut(BaseModel):
    """One field whose value differs, with the risk that it changes numerics."""

    name: str = Field(description="Dotted fingerprint field, e.g. env.TF_ENABLE_ONEDNN_OPTS")
    a: Any
    b: Any
    risk: Risk


class ChangedPackage(BaseModel):
    """A distribution installed on both sides at different versions."""

    name: str
    a: str
    b: str


class PackageDiffOut(BaseModel):
    """Distributions only in run B (added), only in run A (removed), or at other versions."""

    added: list[str] = Field(default_factory=list, description="name==version, only in run B")
    removed: list[str] = Field(default_factory=list, description="name==version, only in run A")
    changed: list[ChangedPackage] = Field(default_factory=list)


class RunDiff(BaseModel):
    """The environment differences between two runs, riskiest first."""

    run_a: int
    run_b: int
    job_a: int
    job_b: int
    seed_a: int
    seed_b: int
    fingerprint_a: str
    fingerprint_b: str
    identical: bool
    fields: list[FieldDiffOut]
    packages: PackageDiffOut
    # Provenance: the agent and credential that wrote each run's current attempt.
    writer_a: str | None = None
    writer_b: str | None = None


class ValueCountOut(BaseModel):
    """One value of a varying field and the runs that saw it."""

    value: Any
    runs: int
    run_ids: list[int]


class VaryingFieldOut(BaseModel):
    """A field not equal across a job's runs."""

    name: str
    risk: Risk
    values: list[ValueCountOut]


class JobVariation(BaseModel):
    """Fingerprint fields and applied toggles that vary across a job's runs, riskiest first."""

    job_id: int
    runs_compared: list[int] = Field(description="Runs with a fingerprint, compared here")
    runs_without_fingerprint: list[int] = Field(description="Runs not started yet, left out")
    fields: list[VaryingFieldOut]

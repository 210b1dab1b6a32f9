"""Response shapes of the first-divergence locator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Cause = Literal["model", "initialisation", "data_order", "numeric", "data", "unknown"]


class DivergenceSummary(BaseModel):
    """Where two runs first differ and the likely cause."""

    run_a: int
    run_b: int
    identical: bool
    traced: bool = Field(description="Both runs recorded per-step checksums (profile trace)")
    epoch: int | None = Field(
        default=None, description="First epoch whose weights differ; 0 = before training"
    )
    step: int | None = Field(default=None, description="Step within that epoch (traced runs)")
    global_step: int | None = Field(default=None, description="Step counted from the start")
    cause: Cause | None = None
    inputs_differ: bool | None = Field(
        default=None, description="Whether that step's input batches already differed"
    )
    layers: list[str] = Field(default_factory=list, description="Layers that differ first")
    data_hash_differs: bool | None = None
    explanation: str


class EpochRow(BaseModel):
    """Layers whose weights differ after one epoch (epoch 0: before training)."""

    epoch: int
    differing: list[str]


class StepRow(BaseModel):
    """One traced optimizer step of both runs."""

    global_step: int
    epoch: int
    step: int
    input_differs: bool | None
    differing: list[str]


class RunDivergence(DivergenceSummary):
    """The first divergence with the whole timeline, for the run-pair page."""

    layer_names: list[str] = Field(default_factory=list)
    epoch_timeline: list[EpochRow] = Field(default_factory=list)
    step_timeline: list[StepRow] = Field(default_factory=list)
    steps_truncated: bool = False

"""Agent protocol shapes (agent <-> server over HTTP)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedlab.bounds import MAX_INT32, FiniteFloat, Id, Int32, JsonObject, Seconds


class AgentRegister(BaseModel):
    """An agent announcing itself."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    hostname: str = Field(max_length=255)
    pid: Int32 | None = None
    version: str = Field(default="", max_length=40)


class AgentRead(BaseModel):
    """An agent as the server knows it."""

    id: int
    name: str
    hostname: str
    pid: int | None
    version: str
    registered_at: datetime
    last_seen_at: datetime


class ClaimRequest(BaseModel):
    """An agent asking for work."""

    model_config = ConfigDict(extra="forbid")

    agent_id: Id


class RunAssignment(BaseModel):
    """A claimed run: everything the agent needs to launch it."""

    run_id: int
    job_id: int
    attempt: int
    experiment: str
    params: dict[str, Any]
    seed: int
    repeat: int
    profile: dict[str, Any]
    lease_seconds: float


class AttemptFenced(BaseModel):
    """Base for every write an agent makes about a run: carries its attempt number."""

    model_config = ConfigDict(extra="forbid")

    attempt: int = Field(ge=1, le=MAX_INT32)


class Heartbeat(AttemptFenced):
    """Keeps the lease alive and reports progress."""

    epoch: Int32 | None = None
    epochs: Int32 | None = None


class HeartbeatReply(BaseModel):
    """The new lease and whether the run should stop."""

    lease_expires_at: datetime
    cancel: bool


class RunStarted(AttemptFenced):
    """What the run process applied and saw, sent once it is set up."""

    applied_profile: JsonObject
    fingerprint_hash: str = Field(min_length=64, max_length=64)
    # Bounded so what is stored can be read back (a deeply nested one broke its own GET).
    fingerprint: JsonObject
    isolation: Literal["fork", "process"]
    isolation_reason: str | None = Field(default=None, max_length=2000)


MAX_POINTS_PER_BATCH = 50_000
MAX_SERIES_PER_BATCH = 1000
# Steps are stored as 32-bit integers (PostgreSQL `integer`).
MAX_STEP = 2**31 - 1


class MetricSeriesIn(BaseModel):
    """One metric's values at several steps, as two parallel arrays."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=100)
    # Lists of plain numbers rather than one object per point: pydantic validates them in a
    # tight loop, several times faster than thousands of small models.
    steps: list[Annotated[int, Field(ge=0, le=MAX_STEP)]] = Field(max_length=MAX_POINTS_PER_BATCH)
    values: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        max_length=MAX_POINTS_PER_BATCH
    )

    @model_validator(mode="after")
    def _parallel(self) -> Self:
        if len(self.steps) != len(self.values):
            raise ValueError(
                f"series {self.key!r} has {len(self.steps)} steps but {len(self.values)} values"
            )
        return self


class PointsBatch(AttemptFenced):
    """A batch of metric points grouped by metric, with the progress they imply."""

    # Series are few (one per metric): a million empty ones cost 1.4 GB to validate.
    series: list[MetricSeriesIn] = Field(max_length=MAX_SERIES_PER_BATCH)
    epoch: Int32 | None = None
    epochs: Int32 | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.point_count > MAX_POINTS_PER_BATCH:
            raise ValueError(
                f"a batch carries at most {MAX_POINTS_PER_BATCH:,} points, not {self.point_count:,}"
            )
        return self

    @property
    def point_count(self) -> int:
        """How many points the batch carries over all series."""
        return sum(len(s.steps) for s in self.series)


class PointsAccepted(BaseModel):
    """How many points the batch carried (all are stored; resent ones are ignored)."""

    accepted: int


ShortChecksum = Annotated[str, Field(min_length=1, max_length=64)]
LayerChecksums = Annotated[list[ShortChecksum], Field(max_length=10_000)]


class RunTraceIn(BaseModel):
    """Per-layer weight checksums before training, after each epoch and (traced) each step."""

    model_config = ConfigDict(extra="forbid")

    layers: Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=10_000)]
    initial: LayerChecksums
    epochs: Annotated[list[LayerChecksums], Field(max_length=100_000)]
    # Each step: [epoch, step within the epoch, input batch checksum or null, layer checksums].
    steps: (
        Annotated[
            list[
                tuple[
                    Annotated[int, Field(ge=1, le=MAX_INT32)],
                    Annotated[int, Field(ge=1, le=MAX_INT32)],
                    ShortChecksum | None,
                    LayerChecksums,
                ]
            ],
            Field(max_length=10_000),
        ]
        | None
    ) = None
    steps_truncated: bool = False


# interrupted: the agent was stopped (SIGTERM, Ctrl-C); the run goes back to the queue.
RunEnd = Literal["succeeded", "failed", "cancelled", "interrupted"]


class RunFinished(AttemptFenced):
    """The end of an attempt."""

    status: RunEnd
    final_metrics: dict[Annotated[str, Field(max_length=100)], FiniteFloat] | None = Field(
        default=None, max_length=1000
    )
    weights_checksum: str | None = Field(default=None, max_length=64)
    epoch_checksums: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=100_000
    )
    seconds: Seconds | None = None
    seconds_per_epoch: Seconds | None = None
    trace: RunTraceIn | None = None
    error: str | None = Field(default=None, max_length=10_000)
    traceback: str | None = Field(default=None, max_length=20_000)

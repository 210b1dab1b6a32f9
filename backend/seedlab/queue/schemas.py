"""Agent protocol shapes (agent <-> server over HTTP)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seedlab.bounds import MAX_INT32, FiniteFloat, Id, Int32, JsonObject, Seconds
from seedlab.experiments.spec import MAX_BOUNDED_METRICS, MAX_METRIC_NAME
from seedlab.runspec import RunSpec

# Bounds of an advertisement: the server stores it per agent and reads it on every catalog view.
MAX_ADVERTISED_EXPERIMENTS = 500
MAX_SOURCES = 200
MAX_SCHEMA_BYTES = 64_000
MAX_SCHEMA_DEPTH = 20
MAX_SOURCE_ERROR = 4000
EXPERIMENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


def _json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((_json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 0


def _bounded_json(value: dict[str, Any], what: str) -> dict[str, Any]:
    """The value when it is small and shallow enough to store; ValueError naming the limit."""
    size = len(json.dumps(value, allow_nan=False))
    if size > MAX_SCHEMA_BYTES:
        raise ValueError(f"{what} is {size:,} bytes of JSON; at most {MAX_SCHEMA_BYTES:,}")
    depth = _json_depth(value)
    if depth > MAX_SCHEMA_DEPTH:
        raise ValueError(f"{what} is nested {depth} levels deep; at most {MAX_SCHEMA_DEPTH}")
    return value


SeedSource = Literal["init", "order", "split"]


def _init_only() -> list[SeedSource]:
    return ["init"]


class ExperimentAdvert(BaseModel):
    """One experiment an agent can run, as it advertises it when it registers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=EXPERIMENT_NAME_PATTERN)
    version: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=4000)
    params_schema: dict[str, Any]
    defaults: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="builtin", max_length=300)
    # Older agents send none: such an experiment has one source, init.
    seed_sources: list[SeedSource] = Field(default_factory=_init_only, max_length=3)
    # Metrics it declares bounded in [0, 1] beyond those bounded by name; older agents send none.
    bounded_metrics: list[Annotated[str, Field(min_length=1, max_length=MAX_METRIC_NAME)]] = Field(
        default_factory=list, max_length=MAX_BOUNDED_METRICS
    )

    @field_validator("seed_sources")
    @classmethod
    def _sources_canonical(cls, value: list[SeedSource]) -> list[SeedSource]:
        order: tuple[SeedSource, ...] = ("init", "order", "split")
        if "init" not in value:
            raise ValueError("seed_sources must include 'init' (weights follow the run seed)")
        return [source for source in order if source in value]

    @field_validator("bounded_metrics")
    @classmethod
    def _metrics_canonical(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("params_schema")
    @classmethod
    def _schema_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, "params_schema")

    @field_validator("defaults")
    @classmethod
    def _defaults_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, "defaults")


class SourceReport(BaseModel):
    """One place the agent loaded experiments from: loaded (with what) or failed (with why)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=300)
    ok: bool
    error: str | None = Field(default=None, max_length=MAX_SOURCE_ERROR)
    experiments: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=MAX_ADVERTISED_EXPERIMENTS
    )


class AgentAdvertisement(BaseModel):
    """The experiments an agent can run and the sources it loaded them from."""

    model_config = ConfigDict(extra="forbid")

    experiments: list[ExperimentAdvert] = Field(
        default_factory=list, max_length=MAX_ADVERTISED_EXPERIMENTS
    )
    sources: list[SourceReport] = Field(default_factory=list, max_length=MAX_SOURCES)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [e.name for e in self.experiments]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"experiments advertised twice: {', '.join(twice)}")
        return self


LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=LABEL_PATTERN)]
MAX_LABELS = 50
MAX_GPUS = 64


class AgentRegister(AgentAdvertisement):
    """An agent announcing itself, with its advertisement and capabilities."""

    name: str = Field(max_length=200)
    hostname: str = Field(max_length=255)
    pid: Int32 | None = None
    version: str = Field(default="", max_length=40)
    cpus: int | None = Field(default=None, ge=1, description="CPU cores the agent may use")
    gpus: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, max_length=MAX_GPUS, description="GPU indices the agent owns"
    )
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)

    @field_validator("gpus", "labels")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        twice = sorted({str(v) for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"listed twice: {', '.join(twice)}")
        return values


class AgentRead(BaseModel):
    """An agent as the server knows it."""

    id: int
    name: str
    hostname: str
    pid: int | None
    version: str
    registered_at: datetime
    last_seen_at: datetime
    cpus: int | None = None
    gpus: list[int] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class AgentStatus(AgentRead):
    """An agent on the workers page: online from its last contact, the runs it holds."""

    online: bool
    current_runs: list[int]


class ClaimRequest(BaseModel):
    """An agent asking for work."""

    model_config = ConfigDict(extra="forbid")

    agent_id: Id


class RunAssignment(RunSpec):
    """A claimed run: its spec (what the run process gets) plus the job, repeat and lease."""

    # The agent keeps reading the claims of a newer server that adds a key; the spec it hands
    # the run process (`only_spec()`) is strict.
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: int
    repeat: int
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
    isolation: Literal["fork", "process", "ray"]
    isolation_reason: str | None = Field(default=None, max_length=2000)
    # The version of the experiment the run process loaded (its spec's version).
    experiment_version: str | None = Field(default=None, max_length=40)


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


class RunWarningIn(BaseModel):
    """One warning of the run process."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=100)
    where: str = Field(max_length=500)
    message: str = Field(max_length=2000)


class PredictionsIn(BaseModel):
    """Validation scores of a binary classifier, one per example id."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(max_length=10_000)
    scores: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(max_length=10_000)
    labels: list[int] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _aligned(self) -> PredictionsIn:
        if len(self.scores) != len(self.ids) or (
            self.labels is not None and len(self.labels) != len(self.ids)
        ):
            raise ValueError("predictions need one score (and label) per id")
        return self


class RunPhasesIn(BaseModel):
    """Where a run's time went, measured in the run process (seconds; null: not measured)."""

    model_config = ConfigDict(extra="forbid")

    setup: Seconds | None = Field(
        default=None, description="profile applied and the experiment imported"
    )
    build: Seconds | None = Field(
        default=None, description="from then to the last epoch's end, minus training: data, "
        "model build and compile, evaluation between fits"
    )
    training: Seconds | None = Field(default=None, description="the epochs themselves, summed")


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
    phases: RunPhasesIn | None = None
    trace: RunTraceIn | None = None
    warnings: list[RunWarningIn] | None = Field(
        default=None, max_length=50, description="What the run process noticed, e.g. a repeated "
        "epoch order: {code, where, message}"
    )
    predictions: PredictionsIn | None = None
    error: str | None = Field(default=None, max_length=10_000)
    traceback: str | None = Field(default=None, max_length=20_000)


@dataclass(frozen=True)
class AgentCredential:
    """The credential an agent call came with: what an agent is bound to at registration.

    kind: "token" (an API token: token_id names it), "shared" (the server's
    SEEDLAB_AGENT_TOKEN, which the local agents of `seedlab up` use) or "anonymous" (tokenless
    loopback mode, where every local process is trusted alike).
    """

    kind: Literal["token", "shared", "anonymous"]
    token_id: int | None = None

"""Job request and response shapes."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from seedlab.bounds import JsonObject
from seedlab.divergence.schemas import DivergenceSummary
from seedlab.jobs.models import JobKind
from seedlab.profiles import PresetName, ProfileSpec
from seedlab.runs.schemas import RunSummary


def _unknown_profile(value: Any) -> Any:
    """A preset name that is not one: the allowed values and the nearest name, never pydantic's
    union internals."""
    presets = get_args(PresetName)
    if isinstance(value, str) and value not in presets:
        close = difflib.get_close_matches(value, presets, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PydanticCustomError(
            "unknown_profile",
            "unknown profile {name}; one of {allowed}, or a JSON object{hint}",
            {"name": repr(value[:100]), "allowed": ", ".join(presets), "hint": hint},
        )
    return value


class AuditSpec(BaseModel):
    """What an audit job runs: one seed under the full profile and with each toggle off."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="the one seed audited")
    repeats: int = Field(default=2, ge=2, le=10, description="runs per variant")
    toggles: list[str] | None = Field(
        default=None, description="toggles to audit (default: every audited control of the table)"
    )
    env_matrix: list[dict[str, str]] = Field(
        default_factory=list,
        max_length=8,
        description="pre-import environments to compare, e.g. "
        '[{"TF_ENABLE_ONEDNN_OPTS": "0"}, {"TF_ENABLE_ONEDNN_OPTS": "1"}]',
    )
    trace: bool = Field(
        default=True,
        description="trace every optimizer step, so each pair's first divergence names its step "
        "and whether the inputs differed (adds a little time to every epoch, on and off alike)",
    )

    @field_validator("env_matrix")
    @classmethod
    def _env_names_allowed(cls, matrix: list[dict[str, str]]) -> list[dict[str, str]]:
        from seedlab.profiles import ProfileSpec

        for env in matrix:
            ProfileSpec.check_env_names(env)
        return matrix

    @field_validator("toggles")
    @classmethod
    def _known_toggles(cls, toggles: list[str] | None) -> list[str] | None:
        from seedlab.profiles import TOGGLES

        unknown = sorted(set(toggles or []) - set(TOGGLES))
        if unknown:
            raise ValueError(f"unknown toggles {unknown}; allowed: {list(TOGGLES)}")
        return toggles


RequiredLabel = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
]


class JobRequirements(BaseModel):
    """What an agent needs to take the job's runs."""

    model_config = ConfigDict(extra="forbid")

    gpu: int = Field(default=0, ge=0, le=64, description="GPUs the run needs")
    cpus: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="CPU cores each run needs: only an agent (or, on Ray, a node) with that "
        "many takes it, and a Ray task reserves them",
    )
    labels: list[RequiredLabel] = Field(
        default_factory=list, max_length=20, description="labels the agent must carry"
    )


ParamName = Annotated[str, Field(min_length=1, max_length=100)]


class SweepSpec(BaseModel):
    """What a sweep compares: configurations (a grid or a list), a metric and its direction."""

    model_config = ConfigDict(extra="forbid")

    grid: dict[ParamName, Annotated[list[Any], Field(min_length=1, max_length=50)]] | None = Field(
        default=None,
        max_length=10,
        description="values per parameter; every combination is a configuration, e.g. "
        '{"learning_rate": [0.001, 0.01], "hidden_units": [16, 32]}',
    )
    configs: list[JsonObject] | None = Field(
        default=None,
        max_length=200,
        description="an explicit list of configurations (parameter overrides), instead of a grid",
    )
    metric: str = Field(min_length=1, max_length=200, description="final metric to compare on")
    mode: Literal["max", "min"] | None = Field(
        default=None, description="max or min is best (default: min for loss/error-like names)"
    )
    race: bool | None = Field(
        default=None,
        description="add seeds in rounds and drop configurations worse beyond noise (default: "
        "on with seeds 'BASE:auto', off with 'BASE:N')",
    )
    max_seeds: int | None = Field(
        default=None, ge=1, le=1000, description="seeds per configuration at most (BASE:auto: 20)"
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        le=1e300,
        allow_inf_nan=False,
        description="practical margin: leaders closer than this on the metric count as tied",
    )


class JobCreate(BaseModel):
    """A job submission."""

    model_config = ConfigDict(extra="forbid")

    kind: JobKind = Field(
        default="standard",
        description="standard: a seed plan; audit: the randomness-source audit; decompose: "
        "vary one source of randomness at a time (seeds 'BASE:M') to split the variance; "
        "sweep: compare configurations on common seeds (seeds 'BASE:N' or 'BASE:auto')",
    )
    experiment: str = Field(description="Name of a catalog experiment, e.g. credit_risk_mlp")
    params: JsonObject = Field(default_factory=dict, description="Experiment parameters")
    seeds: (
        Annotated[str, Field(max_length=20_000)]
        | Annotated[list[Annotated[int, Field(ge=0, le=2**32 - 1)]], Field(max_length=10_000)]
        | JsonObject
    ) = Field(
        default="42:3x2",
        description="Seed plan: 'BASE:COUNTxREPEATS', '1,7,9x2', a list, or "
        "{base, count, repeats} / {seeds, repeats}",
    )
    profile: Annotated[PresetName | ProfileSpec, BeforeValidator(_unknown_profile)] = Field(
        default="full", description="Preset name (full, seeds_only, none) or custom toggles"
    )
    tolerance: (
        dict[
            Annotated[str, Field(min_length=1, max_length=100)],
            Annotated[float, Field(ge=0, le=1e300, allow_inf_nan=False)],
        ]
        | None
    ) = Field(
        default=None,
        max_length=100,
        description="Per-metric absolute tolerance for a within_tolerance verdict",
    )
    label: str | None = Field(default=None, max_length=200)
    audit: AuditSpec | None = Field(default=None, description="audit settings (kind=audit)")
    requires: JobRequirements | None = Field(
        default=None, description='what an agent needs to take the runs, e.g. {"gpu": 1}'
    )
    until: str | None = Field(
        default=None,
        max_length=300,
        description="with seeds 'BASE:auto': add seeds in rounds until this holds, "
        "e.g. 'val_auc.ci95_halfwidth<=0.002'",
    )
    max_seeds: int | None = Field(
        default=None, ge=1, description="with seeds 'BASE:auto': stop at this many seeds (50)"
    )
    sweep: SweepSpec | None = Field(
        default=None, description="kind=sweep: the configurations, metric, mode and race"
    )


class SequentialRound(BaseModel):
    """One round of a sequential plan: seeds after it, and the half-width they gave."""

    seeds: int = Field(description="seeds in the job once this round's runs ended")
    halfwidth: float | None = Field(description="the metric's 95% CI half-width (null: running)")


class SequentialOut(BaseModel):
    """How a `BASE:auto` job adds seeds, and which way it ended."""

    until: str
    max_seeds: int
    metric: str
    target: float
    met: bool | None = Field(description="null while rounds are still running")
    reason: str | None = Field(
        description="'target met', 'max seeds reached', 'runs failed', 'cancelled' or "
        "'metric not reported'; null while running"
    )
    rounds: list[SequentialRound]


class SweepConfigOut(BaseModel):
    """One configuration of a sweep: its values, seeds, mean with CI, chance to be best."""

    params: dict[str, Any] = Field(description="the swept parameters' values")
    n: int = Field(description="seeds with a value of the metric")
    mean: float | None
    ci95: list[float] | None = Field(description="t-based 95% CI of the mean over seeds")
    p_best: float | None = Field(
        description="probability it is the best, by a bootstrap over seeds that keeps the pairing"
    )
    rank: int | None = Field(description="1 = best mean")
    rank_interval: list[int] | None = Field(description="95% bootstrap interval of the rank")
    eliminated_after: int | None = Field(description="the round it was dropped in (null: alive)")


class SweepWinner(BaseModel):
    """Which configuration wins, and how sure that is."""

    params: dict[str, Any]
    conclusion: Literal["decided", "tied", "inconclusive"]
    seeds_needed: int | None = Field(
        description="decided/tied: the seeds the conclusion took; inconclusive: about how many "
        "seeds per configuration a decision would need (null: none would)"
    )
    tied: list[dict[str, Any]] = Field(
        default_factory=list, description="tied/inconclusive: the configurations left, best first"
    )


class SweepRound(BaseModel):
    """One round of the race: seeds per configuration after it, configurations racing in it."""

    seeds: int
    alive: int


class SweepOut(BaseModel):
    """A sweep's comparison of its configurations on common seeds."""

    metric: str
    mode: str
    margin: float
    alpha: float = Field(description="family-wise level of the race, split over its rounds")
    configs: list[SweepConfigOut]
    winner: SweepWinner | None = Field(description="null while the race is running")
    runs_used: int
    runs_full_grid: int = Field(description="configurations x max seeds")
    rounds: list[SweepRound]
    stop: str | None = Field(
        description="'one left', 'tied within margin', 'max seeds reached'; null while running"
    )
    reason: str | None = Field(
        default=None, description="why the race ended: a stop, or 'runs failed', 'cancelled'"
    )
    sentence: str = Field(description="the winner in one sentence")


class JobPlan(BaseModel):
    """What a submission would run, stated before it is submitted."""

    kind: str
    experiment: str
    run_count: int = Field(description="how many runs the job would queue")
    text: str = Field(
        description="the plan in one line, e.g. 'decompose credit_risk_mlp: 4 groups x 3 runs "
        "+ 3 all-vary = 15 runs'"
    )
    seeds: str | None = Field(default=None, description="decompose: 'BASE:M'")
    sources: list[str] | None = Field(
        default=None, description="decompose: the experiment's separately seeded sources"
    )
    groups: list[dict[str, Any]] | None = Field(
        default=None,
        description="decompose: each group's name, runs, profile and the seeds of every run",
    )
    runs_full_grid: int | None = Field(
        default=None, description="sweep: configurations x max seeds (x repeats)"
    )
    first_round: dict[str, Any] | None = Field(
        default=None, description="sweep: the first round's seeds, configurations and runs"
    )
    configs: list[dict[str, Any]] | None = Field(
        default=None, description="sweep: every configuration's swept values"
    )


class JobRead(BaseModel):
    """A job as listed and fetched."""

    id: int
    kind: str
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
    requires: dict[str, Any] | None = None
    status: str
    run_count: int
    run_counts: dict[str, int]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    verdict: str | None = Field(
        default=None, description="stored when the job ends (null while it runs)"
    )
    sequential: SequentialOut | None = Field(
        default=None, description="a 'BASE:auto' plan's rule and rounds (null: a fixed plan)"
    )


class JobUpdate(BaseModel):
    """What a job's owner may change after submitting: its label."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(max_length=200, description="free text; blank or null clears it")


class JobFilter(BaseModel):
    """Which jobs a list shows: the API's and the jobs page's query, the service's and the
    repository's argument. Every filter given must match; blank text is no filter."""

    # Not extra="forbid": it is read from a query string that carries other parameters too
    # (limit, offset); unknown names are ignored as they always were.

    status: str | None = None
    experiment: str | None = None
    verdict: str | None = None
    profile: str | None = None
    q: str | None = Field(None, description="text the label contains")
    label: str | None = Field(None, description="only jobs with exactly this label")

    @field_validator("status", "experiment", "verdict", "profile", "q", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        """The page's form sends empty fields: '' (or spaces) means not filtered."""
        if isinstance(value, str):
            return value.strip() or None
        return value

    def active(self) -> dict[str, str]:
        """The filters given, by query parameter name (pager links keep them)."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


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
    ci_method: str = Field(
        default="t",
        description="How ci95 was computed: 't' (Student's t), 'hall-t-clipped' (metrics bounded "
        "in [0, 1]: Hall's skewness-corrected t, clipped to [0, 1]) or 't-clipped' (bounded, "
        "two seeds)",
    )


class SeedLotteryOut(BaseModel):
    """Expected best of k seeds (Dodge et al. 2019) for one final metric."""

    expected_best_of_k: list[float] = Field(description="E[best of k seeds] for k = 1..n")
    higher_is_better: bool = Field(description="Best means highest (else lowest), from the name")
    inflation: float = Field(description="E[best of n] - mean: what best-of-n seeds adds")


class ChurnOut(BaseModel):
    """How the validation decisions move between seeds (one run per seed)."""

    flip_rate: float = Field(description="Share of examples whose class differs between seeds")
    mean_abs_score_diff: float = Field(description="Mean |score_a - score_b| over seed pairs")
    noise_floor_std: float | None = Field(
        description="Accuracy std if errors were independent: sqrt(sum p_i(1-p_i))/n (Jordan 2024)"
    )
    observed_std: float | None = Field(description="Accuracy std (ddof=1) across seeds")
    threshold: float
    n_examples: int
    n_seeds: int
    top_flips: list[list[Any]] = Field(
        description="The examples that flip most: [id, share of seed pairs that disagree]"
    )


class HalfwidthNeeded(BaseModel):
    """Seeds for a target 95% CI half-width of the mean."""

    target: float
    seeds: int | None = Field(description="smallest n whose t-based CI half-width <= target")


class DifferenceNeeded(BaseModel):
    """Seeds per job to detect a difference between two jobs' means."""

    target: float
    power: float
    seeds: int | None = Field(description="seeds per job for a two-sided t-test at alpha 0.05")


class SeedsNeededOut(BaseModel):
    """From this job's seed spread: how many seeds a goal needs (std ddof=1 as the noise)."""

    n: int
    std: float
    halfwidth: HalfwidthNeeded | None = Field(
        description="default target: half of the current CI half-width (?halfwidth= sets it)"
    )
    difference: DifferenceNeeded | None = Field(
        description="default target: one std of the metric (?difference= sets it)"
    )


class PercentileOut(BaseModel):
    """Where a given value falls in the job's seed distribution of one final metric."""

    metric: str
    value: float
    percentile: float = Field(description="0-100: the share of seeds it beats (ties count half)")
    n: int
    higher_is_better: bool


class WarningOut(BaseModel):
    """Something about the runs that a reader of the verdict should know."""

    code: str = Field(description="Stable identifier, e.g. repeated_epoch_order")
    where: str = Field(description="The run, layer or stage it concerns")
    message: str = Field(description="What it means and what to do")


class WarningGroupOut(BaseModel):
    """The job's warnings of one code: the page shows one line per code."""

    code: str
    runs: int = Field(description="Runs with this warning")
    total: int = Field(description="Runs of the job")
    wheres: list[str] = Field(description="Each layer, stage or op it concerns, once")
    messages: list[str] = Field(description="The distinct explanations, each once")
    machine: bool = Field(description="A fact about the machine (oneDNN), not the model")


class AppliedToggleOut(BaseModel):
    """One control across the job's runs: what was asked, and in how many runs it took effect."""

    name: str
    requested: bool = Field(description="On in the job's profile")
    reported: int = Field(description="Runs that reported what they applied")
    applied: int = Field(description="Of those, runs where the control took effect")
    reason: str | None = Field(
        description="Why a requested control did not take effect (e.g. its framework was "
        "never imported), in the first such run's words"
    )


class SourceShareOut(BaseModel):
    """One source's share of a metric's variance."""

    share: float = Field(description="share of the sum of the sources' variances, 0..1")
    ci95: list[float] = Field(description="bootstrap 95% CI of the share")


class DecompositionOut(BaseModel):
    """Where a final metric's seed variance comes from (decompose jobs)."""

    sources: dict[str, SourceShareOut] = Field(
        description="init, order, split (those the experiment has) and kernels"
    )
    residual: float = Field(
        description="share of the all-vary runs' variance beyond the sources' sum (interactions)"
    )


class JobReport(BaseModel):
    """Everything a pipeline needs: status, verdict with evidence, spread, runs."""

    id: int
    kind: str
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
    divergence: list[DivergenceSummary] = Field(
        default_factory=list,
        description="Per seed whose runs differ: where the first two runs first part, and why",
    )
    audit: dict[str, Any] | None = None
    seed_lottery: dict[str, SeedLotteryOut] = Field(
        default_factory=dict,
        description="Per final metric with 2+ seeds: the expected best score of k seeds",
    )
    warnings: list[WarningOut] = Field(default_factory=list)
    warning_groups: list[WarningGroupOut] = Field(default_factory=list)
    applied_toggles: list[AppliedToggleOut] = Field(
        default_factory=list,
        description="Per control, in table order: requested, and applied in how many of the "
        "runs that reported (a framework's controls apply only where it was imported)",
    )
    churn: ChurnOut | None = Field(
        default=None, description="Present when 2+ seeds recorded validation predictions"
    )
    sequential: SequentialOut | None = Field(
        default=None, description="A 'BASE:auto' plan: its rule, rounds and why it stopped"
    )
    seeds_needed: dict[str, SeedsNeededOut] = Field(
        default_factory=dict,
        description="Per final metric with 3+ seeds: seeds for a CI half-width and a difference",
    )
    percentile: PercentileOut | None = Field(
        default=None, description="With ?value= (and ?metric=): where the value falls"
    )
    sweep: SweepOut | None = Field(
        default=None,
        description="Sweep jobs: every configuration's mean, CI, p_best and rank, the winner "
        "with its conclusion, the runs used against the full grid, and the race's rounds",
    )
    decomposition: dict[str, DecompositionOut] | None = Field(
        default=None,
        description="Decompose jobs, per final metric once every group has finished: each "
        "source's share of the variance with a bootstrap CI, and the residual",
    )
    created_at: datetime
    finished_at: datetime | None


class ExperimentIdentity(BaseModel):
    """Which code a run ran: name, catalog version, and the hash of its source."""

    name: str
    version: str
    source_hash: str | None


class RunBundle(BaseModel):
    """Everything needed to run a run again and check that it gives the same bits."""

    bundle_format: int = Field(default=1, description="bumped when the shape changes")
    run_id: int
    job_id: int
    experiment: ExperimentIdentity
    params: dict[str, Any]
    seed: int = Field(description="the run seed, which is the init seed (the global seeds)")
    order_seed: int | None = Field(
        default=None, description="the data-order seed when the run had its own (else `seed`)"
    )
    split_seed: int | None = Field(
        default=None, description="the split seed when the run had its own (else `seed`)"
    )
    profile: dict[str, Any] = Field(description="the resolved profile the run was queued with")
    applied_profile: dict[str, Any] | None = Field(
        description="what the run process applied (seeds, hash seed, threads, toggles)"
    )
    data_hashes: dict[str, Any] = Field(description="hashes of the data the run trained on")
    fingerprint_hash: str | None
    fingerprint: dict[str, Any] | None
    final_metrics: dict[str, float] | None
    weights_checksum: str | None
    epoch_checksums: list[str] | None


class ReplayBestCreate(BaseModel):
    """Replay a job's top K seeds by a final metric under the full profile."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=200, description="final metric to rank by")
    k: int = Field(default=3, ge=1, le=100, description="how many seeds to replay")
    higher_is_better: bool | None = Field(
        default=None, description="default: false for loss/error-like names, else true"
    )

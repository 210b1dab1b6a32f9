"""Comparison response shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ProbImprovementOut(BaseModel):
    """P(B > A) over paired seeds with its percentile-bootstrap 95% CI."""

    value: float = Field(description="Share of paired seeds where B beats A (ties count half)")
    ci95: list[float]
    gamma: float = Field(description="The meaningful-improvement threshold of the conclusion")


class JobSample(BaseModel):
    """One job's final values of the metric: one succeeded run per seed, in seed order."""

    job_id: int
    experiment: str
    label: str | None
    seed_plan: str
    profile_name: str
    seeds: list[int]
    values: list[float]
    run_ids: list[int]


class CompareResult(BaseModel):
    """Job B against job A on one metric; diff and ci95 are B - A."""

    metric: str
    higher_is_better: bool = Field(
        description="Which direction counts as better; by default lower for names with "
        "loss/error/mse/mae, else higher"
    )
    a: JobSample
    b: JobSample
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    std_a: float | None
    std_b: float | None
    diff: float | None = Field(description="mean(B) - mean(A)")
    ci95: list[float] | None = Field(
        description="Bootstrap percentile 95% CI of mean(B) - mean(A), each job resampled "
        "independently (deterministic: fixed generator seed)"
    )
    p_welch: float | None = Field(description="Welch's t-test (unequal variances), two-sided")
    p_mannwhitney: float | None = Field(description="Mann-Whitney U test, two-sided")
    cohens_d: float | None = Field(description="mean difference over the pooled SD (ddof=1)")
    paired: bool = Field(description="Both jobs ran the same seeds, so seeds are also paired")
    p_paired_t: float | None = Field(description="Paired t-test over seed-matched pairs")
    p_wilcoxon: float | None = Field(description="Wilcoxon signed-rank over seed-matched pairs")
    seeds_needed: int | None = Field(
        description="Seeds per job for 80% power at alpha 0.05 (two-sided t-test) to detect "
        "the observed Cohen's d"
    )
    significant: bool = Field(description="Welch p < 0.05 and the 95% CI excludes 0")
    sentence: str
    prob_improvement: ProbImprovementOut | None = Field(
        default=None,
        description="P(B > A) on paired seeds (direction set by higher_is_better); None unless "
        "both jobs ran the same seeds",
    )
    conclusion: Literal["better", "not_better", "inconclusive"] | None = Field(
        default=None,
        description="Bouthillier et al. 2021: better when the CI's lower bound is above 0.5 and "
        "its upper bound above gamma; not_better when it lies below 0.5 or entirely below gamma",
    )
    seeds_to_decide: int | None = Field(
        default=None, description="For an inconclusive result: paired seeds likely to decide it"
    )
    bootstrap: int
    rng_seed: int

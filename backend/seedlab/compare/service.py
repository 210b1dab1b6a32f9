"""Two jobs' final values of one metric (one succeeded run per seed), compared for significance."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.seedscience import prob_improvement
from seedlab.analysis.significance import compare_samples, lower_is_better
from seedlab.analysis.spread import one_run_per_seed
from seedlab.analysis.types import RunData
from seedlab.compare.schemas import CompareResult, JobSample
from seedlab.errors import InvalidInput
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.profiles import SEED_TOGGLES
from seedlab.runs import service as runs_service

__all__ = ["BETTER_CHOICES", "compare_jobs", "job_sample", "lower_is_better", "shared_metrics"]

BOOTSTRAP = 10_000
BETTER_CHOICES: dict[str, bool | None] = {"auto": None, "higher": True, "lower": False}


def _chosen_runs(job: Job) -> list[RunData]:
    return one_run_per_seed([runs_service.as_run_data(run, None) for run in job.runs])


def job_sample(*, job: Job, metric: str) -> JobSample:
    """The job's value of the metric for each seed; 422 when there are fewer than 2."""
    chosen = _chosen_runs(job)
    having = [run for run in chosen if metric in run.final_metrics]
    if chosen and not having:
        names = sorted({key for run in chosen for key in run.final_metrics})
        has = ", ".join(names) if names else "none"
        raise InvalidInput(f"job {job.id} has no final metric {metric!r}; it has: {has}")
    if len(having) < 2:
        raise InvalidInput(
            f"job {job.id} has {len(having)} succeeded seed(s) with {metric}; a comparison "
            "needs at least 2 seeds per job (one succeeded run each)"
        )
    bad = [run.seed for run in having if not math.isfinite(run.final_metrics[metric])]
    if bad:
        raise InvalidInput(
            f"job {job.id} has a non-finite {metric} (NaN or infinite) for seed(s) "
            f"{', '.join(map(str, bad))}; a diverged run has no value to compare"
        )
    return JobSample(
        job_id=job.id,
        experiment=job.experiment_name,
        label=job.label,
        seed_plan=job.seed_plan_text,
        profile_name=job.profile_name,
        seeds=[run.seed for run in having],
        values=[float(run.final_metrics[metric]) for run in having],
        run_ids=[run.run_id for run in having],
    )


def compare_jobs(
    *,
    session: Session,
    job_a: int,
    job_b: int,
    metric: str,
    higher_is_better: bool | None = None,
    bootstrap: int = BOOTSTRAP,
) -> CompareResult:
    """Is job B better than job A on the metric beyond seed noise? 404 or 422 when it cannot say."""
    first = jobs_repository.job_with_runs(session=session, job_id=job_a)
    second = jobs_repository.job_with_runs(session=session, job_id=job_b)
    return _compare(first, second, metric, higher_is_better, bootstrap)


def _compare(
    first: Job, second: Job, metric: str, higher_is_better: bool | None, bootstrap: int
) -> CompareResult:
    sample_a = job_sample(job=first, metric=metric)
    sample_b = job_sample(job=second, metric=metric)
    direction = not lower_is_better(metric) if higher_is_better is None else higher_is_better
    comparison = compare_samples(
        sample_a.values,
        sample_b.values,
        seeds_a=sample_a.seeds,
        seeds_b=sample_b.seeds,
        bootstrap=bootstrap,
        metric=metric,
        higher_is_better=direction,
        seeds_applied=all(
            any(job.profile.get(toggle) for toggle in SEED_TOGGLES) for job in (first, second)
        ),
    )
    extra: dict[str, Any] = {"prob_improvement": None, "conclusion": None, "seeds_to_decide": None}
    if comparison.paired:
        # Both samples are in seed order over the same seeds, so index i pairs seed i.
        improvement = prob_improvement(
            sample_a.values, sample_b.values, higher_is_better=direction, resamples=bootstrap
        )
        extra = {
            "prob_improvement": improvement.to_dict(),
            "conclusion": improvement.conclusion,
            "seeds_to_decide": improvement.seeds_to_decide,
        }
    return CompareResult(a=sample_a, b=sample_b, **comparison.to_dict(), **extra)


def shared_metrics(*, session: Session, job_a: int, job_b: int) -> list[str]:
    """Final metrics both jobs' chosen runs report, sorted."""
    names = [
        {key for run in _chosen_runs(jobs_repository.job_with_runs(session=session, job_id=job_id))
         for key in run.final_metrics}
        for job_id in (job_a, job_b)
    ]
    return sorted(names[0] & names[1])

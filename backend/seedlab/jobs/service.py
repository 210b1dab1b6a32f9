"""Reading jobs: one job or a page of them, as the API shows them."""

from __future__ import annotations

import time
from typing import Any

import anyio
from sqlalchemy.orm import Session

from seedlab.analysis.verdict import BITWISE, NONDETERMINISTIC, NOT_CHECKED, WITHIN_TOLERANCE
from seedlab.db import Database
from seedlab.errors import InvalidInput
from seedlab.fingerprints import service as fingerprints_service
from seedlab.fingerprints.schemas import JobVariation
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import (
    AuditSpec,
    JobCreate,
    JobFilter,
    JobRead,
    SequentialOut,
    SequentialRound,
    SweepSpec,
)
from seedlab.profiles import PRESETS, ProfileSpec
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service
from seedlab.runs.schemas import RunSummary
from seedlab.status import TERMINAL_JOB_STATUSES, JobStatus


def job_read(job: Job, counts: dict[str, int]) -> JobRead:
    """A job as the API lists it."""
    return JobRead(
        id=job.id,
        kind=job.kind,
        experiment=job.experiment_name,
        experiment_version=job.experiment_version,
        label=job.label,
        params=job.params,
        seed_plan=job.seed_plan_text,
        seeds=list(job.seed_plan["seeds"]),
        repeats=int(job.seed_plan["repeats"]),
        profile_name=job.profile_name,
        profile=job.profile,
        tolerance=job.tolerance,
        requires=job.requires,
        status=job.status,
        run_count=job.run_count,
        run_counts=counts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        verdict=job.verdict,
        sequential=sequential_out(job),
    )


def sequential_out(job: Job) -> SequentialOut | None:
    """A `BASE:auto` job's rule, rounds and outcome, as the API shows them."""
    state = job.sequential
    if state is None:
        return None
    return SequentialOut(
        until=state["until"],
        max_seeds=int(state["max_seeds"]),
        metric=state["metric"],
        target=float(state["target"]),
        met=state.get("met"),
        reason=state.get("reason"),
        rounds=[SequentialRound(**r) for r in state["rounds"]],
    )


# How often a waiting request reads the job's status: a 25 ms primary-key read, so a client
# learns of the end within this plus a round trip, and no session stays open in between.
WAIT_POLL_SECONDS = 0.025


async def wait_for_end(*, database: Database, job_id: int, timeout: float) -> JobRead:
    """The job once it has ended, or as it is when timeout seconds have passed (a long poll)."""
    terminal = {s.value for s in TERMINAL_JOB_STATUSES}

    def status() -> str:
        with database.read() as session:
            return jobs_repository.job_status(session=session, job_id=job_id)

    deadline = time.monotonic() + timeout
    while await anyio.to_thread.run_sync(status) not in terminal:
        if time.monotonic() >= deadline:
            break
        await anyio.sleep(WAIT_POLL_SECONDS)

    def read() -> JobRead:
        with database.read() as session:
            return read_job(session=session, job_id=job_id)

    return await anyio.to_thread.run_sync(read)


def read_job(*, session: Session, job_id: int) -> JobRead:
    """One job with its run counts."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    counts = runs_repository.run_counts_by_job(session=session, job_ids=[job.id])
    return job_read(job, counts[job.id])


VERDICTS = (BITWISE, WITHIN_TOLERANCE, NONDETERMINISTIC, NOT_CHECKED)


def list_jobs(
    *, session: Session, limit: int, offset: int, filters: JobFilter
) -> tuple[list[JobRead], int]:
    """A page of jobs matching the filters, newest first, with run counts (no metric rows)."""
    allowed = [s.value for s in JobStatus]
    if filters.status and filters.status not in allowed:
        raise InvalidInput(f"unknown status {filters.status!r}; allowed: {', '.join(allowed)}")
    if filters.verdict and filters.verdict not in VERDICTS:
        raise InvalidInput(f"unknown verdict {filters.verdict!r}; allowed: {', '.join(VERDICTS)}")
    jobs, total = jobs_repository.jobs_page(
        session=session, limit=limit, offset=offset, filters=filters
    )
    counts = runs_repository.run_counts_by_job(session=session, job_ids=[j.id for j in jobs])
    return [job_read(job, counts[job.id]) for job in jobs], total


def filter_choices(*, session: Session) -> dict[str, list[str]]:
    """The experiments and profile names jobs use, for the jobs list's filter selects."""
    return jobs_repository.job_filter_choices(session=session)


def get_job(*, session: Session, job_id: int) -> Job:
    """The job, or NotFound."""
    return jobs_repository.get_job(session=session, job_id=job_id)


def experiment_jobs(*, session: Session, experiment: str) -> list[Job]:
    """Every job of one experiment, oldest first, with its runs (the experiment page)."""
    return jobs_repository.experiment_jobs(session=session, experiment=experiment, profile=None)


def job_runs(*, session: Session, job_id: int) -> list[RunSummary]:
    """The job's runs in creation order."""
    job = jobs_repository.job_with_runs(session=session, job_id=job_id)
    return [runs_service.run_summary(run) for run in job.runs]


def job_variation(*, session: Session, job_id: int) -> JobVariation:
    """Fields and toggles not equal across the job's runs, with the runs behind each value."""
    job = jobs_repository.job_with_runs(session=session, job_id=job_id)
    return fingerprints_service.job_variation(session=session, job_id=job.id, runs=job.runs)


def update_label(*, session: Session, job_id: int, label: str | None) -> JobRead:
    """Set or clear a job's label (blank text clears it)."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    job.label = (label or "").strip() or None
    session.flush()
    return read_job(session=session, job_id=job.id)


def _sweep_resubmission(job: Job) -> JobCreate:
    """A sweep submitted again: its configurations as a list, its seeds as given."""
    state = job.sweep or {}
    auto = job.seed_plan_text.lower().endswith("auto")
    return JobCreate(
        kind="sweep",
        experiment=job.experiment_name,
        params=dict(job.params),
        seeds=job.seed_plan_text,
        sweep=SweepSpec(
            configs=[dict(c) for c in state["configs"]],
            metric=state["metric"],
            mode=state["mode"],
            race=bool(state["race"]),
            max_seeds=int(state["max_seeds"]) if auto else None,
            margin=float(state["margin"]),
        ),
        profile=profile_spec(job.profile),
        tolerance=job.tolerance,
        label=job.label,
    )


def profile_spec(profile: dict[str, Any]) -> ProfileSpec:
    """The spec that resolves to a stored profile again (its preset, every toggle explicit)."""
    preset = str(profile.get("name", "full")).split("+", 1)[0]
    fields = {k: v for k, v in profile.items() if k != "name" and k in ProfileSpec.model_fields}
    return ProfileSpec(preset=preset if preset in PRESETS else "full", **fields)


def resubmission(*, session: Session, job_id: int) -> JobCreate:
    """The submission that creates the same job again (clone and rerun start from it)."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    state = job.sequential
    stored = job.seed_plan.get("decompose")
    if job.sweep is not None:
        return _sweep_resubmission(job)
    # A sequential job is submitted again as its rule, a decompose job as its grid, not as
    # the seeds they expanded into.
    if state:
        seeds: Any = f"{state['base']}:auto"
    elif stored:
        seeds = f"{stored['base']}:{stored['per_group']}"
    else:
        seeds = dict(job.seed_plan)
    return JobCreate(
        kind="audit" if job.kind == "audit" else "decompose" if stored else "standard",
        experiment=job.experiment_name,
        params=dict(job.params),
        seeds=seeds,
        until=state["until"] if state else None,
        max_seeds=int(state["max_seeds"]) if state else None,
        profile=profile_spec(job.profile),
        tolerance=job.tolerance,
        label=job.label,
        audit=AuditSpec.model_validate(job.audit) if job.kind == "audit" and job.audit else None,
    )


def job_count(*, session: Session) -> int:
    """How many jobs the database holds (`seedlab up` prints it beside the data directory)."""
    return jobs_repository.count_jobs(session=session)

"""Queries of jobs (the only SQL on the job table)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from seedlab.errors import NotFound
from seedlab.jobs.models import Job, JobLabel
from seedlab.jobs.schemas import JobFilter
from seedlab.runs.models import Run
from seedlab.status import JobStatus, RunStatus


def get_job(*, session: Session, job_id: int) -> Job:
    """The job, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def job_status(*, session: Session, job_id: int) -> str:
    """The job's stored status (one indexed read), or NotFound."""
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    if status is None:
        raise NotFound(f"job {job_id} does not exist")
    return status


def job_with_runs(*, session: Session, job_id: int) -> Job:
    """The job with its runs loaded in one more query, or NotFound."""
    # A query, not session.get: a job already in the identity map without its runs gets them.
    # Attempts too: a run's summary names the agent (and credential) that wrote it.
    query = (
        select(Job)
        .where(Job.id == job_id)
        .options(selectinload(Job.runs).selectinload(Run.attempts))
    )
    job = session.scalars(query).one_or_none()
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def required_labels(*, session: Session, job_id: int) -> list[str]:
    """The labels an agent must carry to run the job's runs, sorted."""
    query = select(JobLabel.label).where(JobLabel.job_id == job_id).order_by(JobLabel.label)
    return list(session.scalars(query))


def jobs_page(
    *, session: Session, limit: int, offset: int, filters: JobFilter
) -> tuple[list[Job], int]:
    """A page of jobs matching every filter given, newest first, and how many match in all."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(Job.status == filters.status)
    if filters.experiment:
        conditions.append(Job.experiment_name == filters.experiment)
    if filters.verdict:
        conditions.append(Job.verdict == filters.verdict)
    if filters.profile:
        conditions.append(Job.profile_name == filters.profile)
    if filters.label is not None:
        conditions.append(Job.label == filters.label)  # an exact label, e.g. a baseline "main"
    if filters.q:
        # The user's text is matched literally: % and _ are escaped, not wildcards.
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Job.label.ilike(f"%{escaped}%", escape="\\"))
    query = select(Job).where(*conditions)
    count_query = select(func.count()).select_from(Job).where(*conditions)
    jobs = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    return jobs, session.scalar(count_query) or 0


def experiment_jobs(*, session: Session, experiment: str, profile: str | None) -> list[Job]:
    """Every job of one experiment, oldest first, with its runs (the experiment page)."""
    query = select(Job).where(Job.experiment_name == experiment).options(selectinload(Job.runs))
    if profile:
        query = query.where(Job.profile_name == profile)
    return list(session.scalars(query.order_by(Job.id)))


def job_filter_choices(*, session: Session) -> dict[str, list[str]]:
    """The experiments and profile names jobs use, for the jobs list's filter selects."""
    return {
        "experiments": list(
            session.scalars(select(Job.experiment_name).distinct().order_by(Job.experiment_name))
        ),
        "profiles": list(
            session.scalars(select(Job.profile_name).distinct().order_by(Job.profile_name))
        ),
    }


def delete_job(*, session: Session, job_id: int) -> None:
    """Delete the job; the database's ON DELETE CASCADE removes its runs and their rows."""
    session.execute(delete(Job).where(Job.id == job_id))


def reported_metrics(*, session: Session, experiment: str) -> set[str]:
    """Final metric names the experiment's most recent succeeded run reported (empty: none yet)."""
    latest = session.scalars(
        select(Run.final_metrics)
        .join(Job, Job.id == Run.job_id)
        .where(
            Job.experiment_name == experiment,
            Run.status == RunStatus.SUCCEEDED.value,
            Run.final_metrics.is_not(None),
        )
        .order_by(Run.id.desc())
        .limit(1)
    ).first()
    return set(latest or {})


def lock_job(*, session: Session, job_id: int) -> Job:
    """The job row locked for this transaction and re-read (PostgreSQL; SQLite's write
    transaction is already exclusive), so concurrent finishers decide a round one at a time."""
    return session.scalars(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def open_sequential_jobs(*, session: Session) -> list[Job]:
    """Sequential and sweep jobs not yet ended (a round may be waiting for its decision)."""
    return list(
        session.scalars(
            select(Job)
            .where(
                or_(Job.sequential.is_not(None), Job.sweep.is_not(None)),
                Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
            )
            .order_by(Job.id)
        )
    )


def count_jobs(*, session: Session) -> int:
    """How many jobs the database holds."""
    return session.scalar(select(func.count()).select_from(Job)) or 0

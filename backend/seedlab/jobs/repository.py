"""Queries of jobs (the only SQL on the job table)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from seedlab.errors import NotFound
from seedlab.jobs.models import Job


def get_job(*, session: Session, job_id: int) -> Job:
    """The job, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def job_with_runs(*, session: Session, job_id: int) -> Job:
    """The job with its runs loaded in one more query, or NotFound."""
    job = session.get(Job, job_id, options=[selectinload(Job.runs)])
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def jobs_page(
    *, session: Session, limit: int, offset: int, status: str | None = None
) -> tuple[list[Job], int]:
    """A page of jobs, newest first, and how many there are in all."""
    query = select(Job)
    count_query = select(func.count()).select_from(Job)
    if status:
        query = query.where(Job.status == status)
        count_query = count_query.where(Job.status == status)
    jobs = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    return jobs, session.scalar(count_query) or 0


def delete_job(*, session: Session, job_id: int) -> None:
    """Delete the job; the database's ON DELETE CASCADE removes its runs and their rows."""
    session.execute(delete(Job).where(Job.id == job_id))

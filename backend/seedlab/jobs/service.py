"""Reading jobs: one job or a page of them, as the API shows them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from seedlab.errors import InvalidInput
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import JobRead
from seedlab.runs import repository as runs_repository
from seedlab.status import JobStatus


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
    )


def read_job(*, session: Session, job_id: int) -> JobRead:
    """One job with its run counts."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    counts = runs_repository.run_counts_by_job(session=session, job_ids=[job.id])
    return job_read(job, counts[job.id])


def list_jobs(
    *, session: Session, limit: int, offset: int, status: str | None = None
) -> tuple[list[JobRead], int]:
    """A page of jobs, newest first, with run counts (never touches metric rows)."""
    allowed = [s.value for s in JobStatus]
    if status and status not in allowed:
        raise InvalidInput(f"unknown status {status!r}; allowed: {', '.join(allowed)}")
    jobs, total = jobs_repository.jobs_page(
        session=session, limit=limit, offset=offset, status=status
    )
    counts = runs_repository.run_counts_by_job(session=session, job_ids=[j.id for j in jobs])
    return [job_read(job, counts[job.id]) for job in jobs], total

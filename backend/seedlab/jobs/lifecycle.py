"""Job lifecycle: status derived from the runs, moved through the transition table; cancel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from seedlab.analysis.audit import BASELINE
from seedlab.db import utcnow
from seedlab.errors import Conflict
from seedlab.jobs import report as jobs_report
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs import sequential, sweep
from seedlab.jobs.models import Job
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service
from seedlab.status import (
    TERMINAL_JOB_STATUSES,
    JobStatus,
    RunStatus,
    transition_job,
)


def derive_status(counts: dict[str, int], *, cancel_requested: bool, started: bool) -> JobStatus:
    """The job status implied by its runs' statuses (a started job never goes back to queued)."""
    total = sum(counts.values())
    queued = counts.get(RunStatus.QUEUED.value, 0)
    running = counts.get(RunStatus.RUNNING.value, 0)
    if queued == total:
        return JobStatus.RUNNING if started else JobStatus.QUEUED
    if queued or running:
        return JobStatus.RUNNING
    if cancel_requested and counts.get(RunStatus.CANCELLED.value, 0):
        return JobStatus.CANCELLED
    if counts.get(RunStatus.FAILED.value, 0) or counts.get(RunStatus.CANCELLED.value, 0):
        return JobStatus.FAILED
    return JobStatus.SUCCEEDED


def refresh_status(*, session: Session, job: Job) -> None:
    """Recompute the job status from its runs and move it through the transition table.

    A sequential job first closes a finished round: it stops, or queues the next round (so the
    job stays running between rounds and never passes through a terminal status).
    """
    session.flush()
    if job.sequential is not None:
        job = jobs_repository.lock_job(session=session, job_id=job.id)
        sequential.advance(session=session, job=job)
        session.flush()
    elif job.sweep is not None:
        job = jobs_repository.lock_job(session=session, job_id=job.id)
        sweep.advance(session=session, job=job)
        session.flush()
    counts = runs_repository.run_counts_by_job(session=session, job_ids=[job.id])[job.id]
    if job.kind == "audit" and counts.get(RunStatus.FAILED.value):
        # In an audit, a run that fails with a control turned off is a finding, not a failure
        # of the job; only failing baseline runs fail it.
        baseline_failed = runs_repository.count_runs(
            session=session, job_id=job.id, variant=BASELINE, status=RunStatus.FAILED
        )
        findings = counts[RunStatus.FAILED.value] - baseline_failed
        counts[RunStatus.FAILED.value] -= findings
        counts[RunStatus.SUCCEEDED.value] = counts.get(RunStatus.SUCCEEDED.value, 0) + findings
    new = derive_status(
        counts, cancel_requested=job.cancel_requested, started=job.started_at is not None
    )
    if transition_job(job, new):
        now = utcnow()
        if new is not JobStatus.QUEUED and job.started_at is None:
            job.started_at = now
        if new in TERMINAL_JOB_STATUSES:
            job.finished_at = now
            # Stored once, in the caller's unit of work, so the jobs list filters on it cheaply.
            job.verdict = jobs_report.final_verdict(session=session, job=job)


def settle_sequential(*, session: Session) -> list[int]:
    """Decide any round a sequential job left open (every run ended, nothing decided), as the
    server does on start; the decision is re-derived from the runs, so this is idempotent."""
    settled = []
    for job in jobs_repository.open_sequential_jobs(session=session):
        before = (job.sequential, job.sweep)
        refresh_status(session=session, job=job)
        if (job.sequential, job.sweep) != before:
            settled.append(job.id)
    return settled


def cancel_job(*, session: Session, job_id: int) -> Job:
    """Cancel queued runs at once and ask agents to stop running ones."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    job.cancel_requested = True
    runs_service.cancel_runs(session=session, job_id=job.id, now=utcnow())
    refresh_status(session=session, job=job)
    return job


def delete_job(*, session: Session, job_id: int) -> None:
    """Delete a finished job with its runs, attempts, points, curves and traces (nothing else)."""
    job = jobs_repository.get_job(session=session, job_id=job_id)
    if job.status not in {s.value for s in TERMINAL_JOB_STATUSES}:
        # Agents are still writing to its runs; cancelling first lets them stop cleanly.
        raise Conflict(f"job {job_id} is {job.status}; cancel it and wait for it to end first")
    session.expunge(job)
    jobs_repository.delete_job(session=session, job_id=job_id)

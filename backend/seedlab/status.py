"""Run and job statuses and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from seedlab.errors import Conflict


class RunStatus(StrEnum):
    """Lifecycle of one run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStatus(StrEnum):
    """Lifecycle of a job, derived from its runs."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    # running -> queued: the lease expired and the run goes back as its next attempt.
    RunStatus.RUNNING: frozenset(
        {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.QUEUED}
    ),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

TERMINAL_RUN_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class _HasStatus(Protocol):
    status: str


def check_run_transition(current: str, new: RunStatus) -> None:
    """Raise Conflict unless a run may move from current to new."""
    if new not in RUN_TRANSITIONS[RunStatus(current)]:
        raise Conflict(f"run cannot go from {current} to {new.value}")


def transition_run(run: _HasStatus, new: RunStatus) -> None:
    """Move a run to a new status through the transition table."""
    check_run_transition(run.status, new)
    run.status = new.value


def transition_job(job: _HasStatus, new: JobStatus) -> bool:
    """Move a job to a new status through the table; False when it already has it."""
    if job.status == new.value:
        return False
    if new not in JOB_TRANSITIONS[JobStatus(job.status)]:
        raise Conflict(f"job cannot go from {job.status} to {new.value}")
    job.status = new.value
    return True

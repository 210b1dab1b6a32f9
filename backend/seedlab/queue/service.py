"""The database as the queue: claims with leases, heartbeats, attempt fencing, the lease reaper."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from seedlab import __version__
from seedlab.config import Settings
from seedlab.db import utcnow
from seedlab.errors import Conflict, NotFound
from seedlab.experiments import catalog as experiments_catalog
from seedlab.experiments import repository as experiments_repository
from seedlab.experiments import service as experiments_service
from seedlab.experiments.models import AgentExperiment
from seedlab.fingerprints import repository as fingerprints_repository
from seedlab.jobs import lifecycle as jobs_lifecycle
from seedlab.jobs.models import Job, JobLabel
from seedlab.queue.models import Agent
from seedlab.queue.schemas import (
    AgentAdvertisement,
    AgentRead,
    AgentRegister,
    AgentStatus,
    Heartbeat,
    HeartbeatReply,
    PointsBatch,
    RunAssignment,
    RunFinished,
    RunStarted,
    RunTraceIn,
)
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import Run, RunAttempt, RunTrace
from seedlab.status import RunStatus, check_run_transition, transition_run

# A job whose requirements no agent seen this recently meets shows why its runs wait.
QUEUED_REASON_SECONDS = 600


def register_agent(*, session: Session, payload: AgentRegister) -> Agent:
    """Record a new agent with its advertisement; it supersedes earlier agents of its name."""
    for advert in payload.experiments:
        experiments_service.check_advert(
            name=advert.name, params_schema=advert.params_schema, defaults=advert.defaults
        )
    agent = Agent(
        name=payload.name,
        hostname=payload.hostname or socket.gethostname(),
        pid=payload.pid,
        version=payload.version or __version__,
        cpus=payload.cpus,
        gpus=list(payload.gpus),
        gpu_count=len(payload.gpus),
        labels=list(payload.labels),
    )
    session.add(agent)
    session.flush()
    # A restarted agent (same name on the same host) replaces its predecessor's advertisement,
    # so restarts do not pile up stale catalogs.
    predecessors = session.scalars(
        select(Agent.id).where(
            Agent.name == agent.name, Agent.hostname == agent.hostname, Agent.id != agent.id
        )
    ).all()
    _store_advertisement(session, agent.id, payload, superseded=list(predecessors))
    return agent


def advertise(*, session: Session, agent_id: int, payload: AgentAdvertisement) -> None:
    """Replace a registered agent's advertisement (it reloaded its experiments)."""
    for advert in payload.experiments:
        experiments_service.check_advert(
            name=advert.name, params_schema=advert.params_schema, defaults=advert.defaults
        )
    _touch_agent(session, agent_id, utcnow())
    _store_advertisement(session, agent_id, payload, superseded=[])


def _store_advertisement(
    session: Session,
    agent_id: int,
    payload: AgentRegister | AgentAdvertisement,
    *,
    superseded: list[int],
) -> None:
    experiments_repository.replace_advertisement(
        session=session,
        agent_id=agent_id,
        experiments=[advert.model_dump() for advert in payload.experiments],
        sources=[source.model_dump() for source in payload.sources],
        superseded_agent_ids=superseded,
    )


def list_agents(*, session: Session) -> list[Agent]:
    """Every agent, most recently seen first."""
    return list(session.scalars(select(Agent).order_by(Agent.last_seen_at.desc())))


def _touch_agent(session: Session, agent_id: int, now: datetime) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} is not registered; register first")
    agent.last_seen_at = now
    return agent


def agent_statuses(*, session: Session, settings: Settings) -> list[AgentStatus]:
    """Every agent with online/offline (seen within a lease) and the runs it holds now."""
    now = utcnow()
    online_since = now - timedelta(seconds=max(settings.lease_seconds, 10.0))
    holding: dict[int, list[int]] = {}
    for run_id, agent_id in session.execute(
        select(Run.id, Run.agent_id)
        .where(Run.status == RunStatus.RUNNING.value, Run.agent_id.is_not(None))
        .order_by(Run.id)
    ):
        if agent_id is not None:
            holding.setdefault(agent_id, []).append(run_id)
    return [
        AgentStatus(
            **AgentRead.model_validate(agent, from_attributes=True).model_dump(),
            online=agent.last_seen_at >= online_since,
            current_runs=holding.get(agent.id, []),
        )
        for agent in list_agents(session=session)
    ]


def queued_reason(*, session: Session, job: Job, now: datetime | None = None) -> str | None:
    """Why the job's queued runs wait, when no agent seen recently can take them; else None."""
    now = now or utcnow()
    queued = session.scalar(
        select(exists().where(Run.job_id == job.id, Run.status == RunStatus.QUEUED.value))
    )
    if not queued:
        return None
    recent = session.scalars(
        select(Agent).where(Agent.last_seen_at >= now - timedelta(seconds=QUEUED_REASON_SECONDS))
    ).all()
    labels = sorted(label.label for label in job.required_labels)
    if any(
        agent.gpu_count >= job.required_gpus
        and agent_cpus(agent) >= job.required_cpus
        and set(labels) <= set(agent.labels)
        for agent in recent
    ):
        return None
    minutes = QUEUED_REASON_SECONDS // 60
    needs = _requirement_text(job.required_gpus, labels, job.required_cpus)
    return f"no agent{needs} has been seen for {minutes} min"


def agent_cpus(agent: Agent) -> int:
    """The most CPUs one run can get from the agent (an agent that did not say: one)."""
    return agent.cpus if agent.cpus is not None else 1


def _requirement_text(gpus: int, labels: list[str], cpus: int = 1) -> str:
    parts = []
    if cpus > 1:
        parts.append(f"{cpus} CPUs")
    if gpus:
        parts.append(f"{gpus} GPU" + ("s" if gpus > 1 else ""))
    if labels:
        parts.append(("label " if len(labels) == 1 else "labels ") + ", ".join(labels))
    return (" with " + " and ".join(parts)) if parts else ""


def claim_run(*, session: Session, agent_id: int, settings: Settings) -> RunAssignment | None:
    """Atomically take the oldest queued run and lease it to the agent; None when idle."""
    now = utcnow()
    agent = _touch_agent(session, agent_id, now)
    reap_expired_leases(session=session, now=now)
    check_run_transition(RunStatus.QUEUED.value, RunStatus.RUNNING)
    # SKIP LOCKED lets concurrent claimers on PostgreSQL pass over each other's candidate; on
    # SQLite the write transaction (BEGIN IMMEDIATE) already serialises claimers.
    candidate = (
        select(Run.id)
        .join(Job, Job.id == Run.job_id)
        .where(Run.status == RunStatus.QUEUED.value, _can_run(agent_id), _capable(agent))
        .order_by(Run.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Run)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(Run)
        .where(Run.id == candidate, Run.status == RunStatus.QUEUED.value)
        .values(
            status=RunStatus.RUNNING.value,
            attempt=Run.attempt + 1,
            agent_id=agent_id,
            lease_expires_at=now + timedelta(seconds=settings.lease_seconds),
            started_at=now,
            epoch=None,
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    run = session.get(Run, claimed, populate_existing=True)
    assert run is not None
    session.add(RunAttempt(run_id=run.id, attempt=run.attempt, agent_id=agent_id, started_at=now))
    job = session.get(Job, run.job_id)
    assert job is not None
    jobs_lifecycle.refresh_status(session=session, job=job)
    return RunAssignment(
        run_id=run.id,
        job_id=run.job_id,
        attempt=run.attempt,
        experiment=job.experiment_name,
        params=job.params,
        seed=run.seed,
        repeat=run.repeat,
        profile=run.profile or job.profile,
        lease_seconds=settings.lease_seconds,
        gpus=job.required_gpus,
        cpus=job.required_cpus,
        order_seed=run.order_seed,
        split_seed=run.split_seed,
    )


def _can_run(agent_id: int) -> Any:
    """The agent runs a job's experiment when it is a built-in, or when the agent advertised
    exactly the version the job recorded (another version is another experiment)."""
    builtin = [spec.name for spec in experiments_catalog.builtin_specs()]
    return or_(
        Job.experiment_name.in_(builtin),
        exists().where(
            AgentExperiment.agent_id == agent_id,
            AgentExperiment.name == Job.experiment_name,
            AgentExperiment.version == Job.experiment_version,
        ),
    )


def _capable(agent: Agent) -> Any:
    """The agent has the job's GPUs and CPUs and every label the job requires."""
    return and_(
        Job.required_gpus <= agent.gpu_count,
        Job.required_cpus <= agent_cpus(agent),
        ~exists().where(JobLabel.job_id == Job.id, JobLabel.label.not_in(list(agent.labels))),
    )


def _fenced_run(session: Session, run_id: int, attempt: int) -> Run:
    """The running run locked for update, or 409 when the write carries a stale attempt."""
    run = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).one_or_none()
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    if run.attempt != attempt or run.status != RunStatus.RUNNING.value:
        raise Conflict(
            f"run {run_id} is at attempt {run.attempt} with status {run.status}; "
            f"writes from attempt {attempt} are refused"
        )
    return run


def _set_progress(run: Run, epoch: int | None, epochs: int | None) -> None:
    if epoch is not None and (run.epoch is None or epoch > run.epoch):
        run.epoch = epoch
    if epochs is not None:
        run.epochs_total = epochs


def heartbeat(
    *, session: Session, run_id: int, payload: Heartbeat, settings: Settings
) -> HeartbeatReply:
    """Extend the lease, record progress, and tell the agent whether to stop."""
    run = _fenced_run(session, run_id, payload.attempt)
    now = utcnow()
    run.lease_expires_at = now + timedelta(seconds=settings.lease_seconds)
    _set_progress(run, payload.epoch, payload.epochs)
    if run.agent_id is not None:
        _touch_agent(session, run.agent_id, now)
    return HeartbeatReply(lease_expires_at=run.lease_expires_at, cancel=run.cancel_requested)


def record_started(*, session: Session, run_id: int, payload: RunStarted) -> None:
    """Store what the run process applied and its fingerprint (once per content hash)."""
    run = _fenced_run(session, run_id, payload.attempt)
    fingerprints_repository.store(
        session=session, fingerprint_hash=payload.fingerprint_hash, data=payload.fingerprint
    )
    run.applied_profile = payload.applied_profile
    run.fingerprint_hash = payload.fingerprint_hash
    run.isolation = payload.isolation
    run.isolation_reason = payload.isolation_reason
    run.experiment_version = payload.experiment_version


def ingest_points(*, session: Session, run_id: int, payload: PointsBatch) -> int:
    """Store a batch of points for the current attempt; returns how many the batch carried."""
    run = _fenced_run(session, run_id, payload.attempt)
    runs_repository.insert_series(
        session=session,
        run_id=run_id,
        attempt=payload.attempt,
        series=[(s.key, s.steps, s.values) for s in payload.series],
    )
    _set_progress(run, payload.epoch, payload.epochs)
    return payload.point_count


def finish_run(*, session: Session, run_id: int, payload: RunFinished) -> None:
    """Close the attempt with its outcome and update the job."""
    run = _fenced_run(session, run_id, payload.attempt)
    now = utcnow()
    if payload.status == "interrupted":
        reason = payload.error or "agent stopped"
        _release(
            session,
            [run],
            lambda r: f"attempt {r.attempt} interrupted: {reason}",
            now,
            outcome="interrupted",
        )
        return
    transition_run(run, RunStatus(payload.status))
    run.finished_at = now
    run.lease_expires_at = None
    run.final_metrics = payload.final_metrics
    run.weights_checksum = payload.weights_checksum
    run.epoch_checksums = payload.epoch_checksums
    run.predictions = payload.predictions.model_dump() if payload.predictions else None
    run.warnings = (
        [w.model_dump() for w in payload.warnings] if payload.warnings is not None else None
    )
    run.seconds = payload.seconds
    run.seconds_per_epoch = payload.seconds_per_epoch
    run.error = payload.error
    run.traceback = payload.traceback
    if payload.status == RunStatus.SUCCEEDED.value and payload.epoch_checksums:
        run.epoch = len(payload.epoch_checksums)
    if payload.status == RunStatus.SUCCEEDED.value and payload.trace is not None:
        _store_trace(session, run, payload.trace)
    _close_attempt(session, run, outcome=payload.status, error=payload.error, now=now)
    runs_repository.store_curves(session=session, run=run)
    jobs_lifecycle.refresh_status(session=session, job=run.job)


def _store_trace(session: Session, run: Run, trace: RunTraceIn) -> None:
    """Keep the succeeded attempt's trace (merge: a resent finish replaces, never duplicates)."""
    session.merge(
        RunTrace(
            run_id=run.id,
            attempt=run.attempt,
            layers=trace.layers,
            initial=trace.initial,
            epochs=trace.epochs,
            steps=[list(step) for step in trace.steps] if trace.steps is not None else None,
            steps_truncated=trace.steps_truncated,
        )
    )


def _close_attempt(
    session: Session, run: Run, *, outcome: str, error: str | None, now: datetime
) -> None:
    attempt = session.scalars(
        select(RunAttempt).where(RunAttempt.run_id == run.id, RunAttempt.attempt == run.attempt)
    ).one_or_none()
    if attempt is not None:
        attempt.ended_at = now
        attempt.outcome = outcome
        attempt.error = error


def reap_expired_leases(*, session: Session, now: datetime | None = None) -> list[int]:
    """Put runs whose lease expired back in the queue as their next attempt, or fail them."""
    now = now or utcnow()
    expired = session.scalars(
        select(Run)
        .where(Run.status == RunStatus.RUNNING.value, Run.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    ).all()
    _release(
        session,
        expired,
        lambda run: (
            f"lease expired on attempt {run.attempt} (agent {run.agent_id} stopped reporting)"
        ),
        now,
    )
    return [run.id for run in expired]


def release_agent_runs(
    *, session: Session, agent_names: list[str], hostname: str | None = None
) -> list[int]:
    """Requeue (or fail, out of attempts) the running runs of agents that were just stopped."""
    now = utcnow()
    agents = select(Agent.id).where(Agent.name.in_(agent_names))
    if hostname is not None:
        agents = agents.where(Agent.hostname == hostname)
    runs = session.scalars(
        select(Run)
        .where(Run.status == RunStatus.RUNNING.value, Run.agent_id.in_(agents))
        .with_for_update(skip_locked=True)
    ).all()
    _release(
        session,
        runs,
        lambda run: (
            f"attempt {run.attempt} interrupted: its agent {run.agent_id} was stopped "
            "with the server"
        ),
        now,
    )
    return [run.id for run in runs]


def _release(
    session: Session,
    runs: Sequence[Run],
    reason: Callable[[Run], str],
    now: datetime,
    *,
    outcome: str = "lease_expired",
) -> None:
    touched_jobs: dict[int, Job] = {}
    for run in runs:
        lost = reason(run)
        _close_attempt(session, run, outcome=outcome, error=lost, now=now)
        run.lease_expires_at = None
        run.agent_id = None
        if run.cancel_requested:
            transition_run(run, RunStatus.CANCELLED)
            run.finished_at = now
        elif run.attempt >= run.max_attempts:
            transition_run(run, RunStatus.FAILED)
            run.finished_at = now
            run.error = f"{lost}; gave up after {run.max_attempts} attempts"
        else:
            transition_run(run, RunStatus.QUEUED)
            run.epoch = None
        touched_jobs[run.job_id] = run.job
    for job in touched_jobs.values():
        jobs_lifecycle.refresh_status(session=session, job=job)

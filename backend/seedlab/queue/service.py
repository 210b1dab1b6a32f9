"""The database as the queue: claims with leases, heartbeats, attempt fencing, the lease reaper."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from seedlab import __version__
from seedlab.config import Settings
from seedlab.db import utcnow
from seedlab.errors import Conflict, Forbidden
from seedlab.experiments import catalog as experiments_catalog
from seedlab.experiments import repository as experiments_repository
from seedlab.experiments import service as experiments_service
from seedlab.fingerprints import repository as fingerprints_repository
from seedlab.jobs import lifecycle as jobs_lifecycle
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.queue import repository as queue_repository
from seedlab.queue.models import Agent
from seedlab.queue.schemas import (
    AgentAdvertisement,
    AgentCredential,
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
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run, RunTrace
from seedlab.status import RunStatus, check_run_transition
from seedlab.tokens import service as tokens_service

# In-process callers (tests, tools on the server's machine) act as the tokenless local user;
# the agent endpoints always pass the credential of the request.
LOCAL = AgentCredential(kind="anonymous")

# A job whose requirements no agent seen this recently meets shows why its runs wait.
QUEUED_REASON_SECONDS = 600


def register_agent(
    *, session: Session, payload: AgentRegister, credential: AgentCredential = LOCAL
) -> Agent:
    """Record a new agent, bound to the credential it came with, with its advertisement; it
    supersedes earlier agents of its name, host and credential."""
    for advert in payload.experiments:
        experiments_service.check_advert(
            name=advert.name, params_schema=advert.params_schema, defaults=advert.defaults
        )
    hostname = payload.hostname or socket.gethostname()
    _check_identity(session, payload.name, hostname, credential)
    agent = Agent(
        credential=credential.kind,
        token_id=credential.token_id,
        name=payload.name,
        hostname=hostname,
        pid=payload.pid,
        version=payload.version or __version__,
        cpus=payload.cpus,
        gpus=list(payload.gpus),
        gpu_count=len(payload.gpus),
        labels=list(payload.labels),
    )
    queue_repository.add_agent(session=session, agent=agent)
    # A restarted agent (same name on the same host, same credential) replaces its
    # predecessor's advertisement, so restarts do not pile up stale catalogs.
    predecessors = queue_repository.predecessors(session=session, agent=agent)
    _store_advertisement(session, agent.id, payload, superseded=predecessors)
    return agent


def _check_identity(
    session: Session, name: str, hostname: str, credential: AgentCredential
) -> None:
    """403 when an API token registers from a second host, or when the name on this host
    belongs to an agent of another live API token (it would take over that agent's name)."""
    if credential.kind == "token" and credential.token_id is not None:
        hosts = queue_repository.token_hosts(session=session, token_id=credential.token_id)
        if hosts and hostname not in hosts:
            raise Forbidden(
                f"this token registered agents on {', '.join(sorted(hosts))}; a token belongs "
                f"to one agent host, so {hostname!r} needs its own agent token "
                "(`seedlab token create --scope agent`)"
            )
    for other in queue_repository.agents_named(session=session, name=name, hostname=hostname):
        if _owned_by(other, credential) or other.credential != "token":
            continue
        if other.token_id is not None and tokens_service.live_token(
            session=session, token_id=other.token_id
        ):
            raise Forbidden(
                f"agent {name!r} on {hostname!r} belongs to another agent token; "
                "choose another --name"
            )


def _owned_by(agent: Agent, credential: AgentCredential) -> bool:
    """Whether the credential may act as the agent: the one it registered with (agents from
    before 0013, registered with no credential recorded, accept any agent credential)."""
    if agent.credential is None:
        return True
    if agent.credential != credential.kind:
        return False
    return agent.credential != "token" or agent.token_id == credential.token_id


def _own_agent(session: Session, agent_id: int, credential: AgentCredential) -> Agent:
    """The agent, when the credential is the one it registered with; else 403."""
    agent = queue_repository.get_agent(session=session, agent_id=agent_id)
    if not _owned_by(agent, credential):
        raise Forbidden(
            f"agent {agent_id} was registered with another credential; "
            "an agent token acts only as the agents it registered"
        )
    return agent


def advertise(
    *,
    session: Session,
    agent_id: int,
    payload: AgentAdvertisement,
    credential: AgentCredential = LOCAL,
) -> None:
    """Replace a registered agent's advertisement (it reloaded its experiments); owner only."""
    _own_agent(session, agent_id, credential)
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
    return queue_repository.list_agents(session=session)


def _touch_agent(session: Session, agent_id: int, now: datetime) -> Agent:
    agent = queue_repository.get_agent(session=session, agent_id=agent_id)
    agent.last_seen_at = now
    return agent


def agent_statuses(*, session: Session, settings: Settings) -> list[AgentStatus]:
    """Every agent with online/offline (seen within a lease) and the runs it holds now."""
    now = utcnow()
    online_since = now - timedelta(seconds=max(settings.lease_seconds, 10.0))
    holding = queue_repository.runs_held(session=session)
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
    if not runs_repository.has_queued_runs(session=session, job_id=job.id):
        return None
    recent = queue_repository.agents_seen_since(
        session=session, since=now - timedelta(seconds=QUEUED_REASON_SECONDS)
    )
    labels = jobs_repository.required_labels(session=session, job_id=job.id)
    if any(
        agent.gpu_count >= job.required_gpus
        and queue_repository.agent_cpus(agent) >= job.required_cpus
        and set(labels) <= set(agent.labels)
        for agent in recent
    ):
        return None
    minutes = QUEUED_REASON_SECONDS // 60
    needs = _requirement_text(job.required_gpus, labels, job.required_cpus)
    return f"no agent{needs} has been seen for {minutes} min"


def _requirement_text(gpus: int, labels: list[str], cpus: int = 1) -> str:
    parts = []
    if cpus > 1:
        parts.append(f"{cpus} CPUs")
    if gpus:
        parts.append(f"{gpus} GPU" + ("s" if gpus > 1 else ""))
    if labels:
        parts.append(("label " if len(labels) == 1 else "labels ") + ", ".join(labels))
    return (" with " + " and ".join(parts)) if parts else ""


def claim_run(
    *,
    session: Session,
    agent_id: int,
    settings: Settings,
    credential: AgentCredential = LOCAL,
) -> RunAssignment | None:
    """Atomically take the oldest queued run and lease it to the agent; None when idle.
    Only the credential the agent registered with may claim as it (403)."""
    now = utcnow()
    agent = _own_agent(session, agent_id, credential)
    agent.last_seen_at = now
    reap_expired_leases(session=session, now=now)
    check_run_transition(RunStatus.QUEUED.value, RunStatus.RUNNING)
    claimed = queue_repository.claim_next(
        session=session,
        agent=agent,
        builtin=[spec.name for spec in experiments_catalog.builtin_specs()],
        now=now,
        lease_expires_at=now + timedelta(seconds=settings.lease_seconds),
    )
    if claimed is None:
        return None
    run = runs_repository.reread_run(session=session, run_id=claimed)
    runs_repository.open_attempt(
        session=session,
        run=run,
        agent_id=agent_id,
        agent_name=agent.name,
        credential=agent.credential,
        token_id=agent.token_id,
        now=now,
    )
    job = jobs_repository.get_job(session=session, job_id=run.job_id)
    jobs_lifecycle.refresh_status(session=session, job=job)
    return RunAssignment(
        run_id=run.id,
        job_id=run.job_id,
        attempt=run.attempt,
        experiment=job.experiment_name,
        params=run.params or job.params,  # a sweep's run carries its configuration's
        seed=run.seed,
        repeat=run.repeat,
        profile=run.profile or job.profile,
        lease_seconds=settings.lease_seconds,
        gpus=job.required_gpus,
        cpus=job.required_cpus,
        order_seed=run.order_seed,
        split_seed=run.split_seed,
    )


def _fenced_run(
    session: Session, run_id: int, attempt: int, credential: AgentCredential
) -> Run:
    """The running run locked for update: 409 when the write carries a stale attempt, 403 when
    the current lease is held by an agent of another credential."""
    run = runs_repository.run_for_update(session=session, run_id=run_id)
    if run.attempt != attempt or run.status != RunStatus.RUNNING.value:
        raise Conflict(
            f"run {run_id} is at attempt {run.attempt} with status {run.status}; "
            f"writes from attempt {attempt} are refused"
        )
    holder = (
        queue_repository.get_agent(session=session, agent_id=run.agent_id)
        if run.agent_id is not None
        else None
    )
    if holder is None or not _owned_by(holder, credential):
        raise Forbidden(
            f"run {run_id} attempt {attempt} is leased to another agent; an agent writes only "
            "the runs whose current lease it holds"
        )
    return run


def heartbeat(
    *,
    session: Session,
    run_id: int,
    payload: Heartbeat,
    settings: Settings,
    credential: AgentCredential = LOCAL,
) -> HeartbeatReply:
    """Extend the lease, record progress, and tell the agent whether to stop."""
    run = _fenced_run(session, run_id, payload.attempt, credential)
    now = utcnow()
    runs_service.extend_lease(
        run,
        lease_expires_at=now + timedelta(seconds=settings.lease_seconds),
        epoch=payload.epoch,
        epochs=payload.epochs,
    )
    if run.agent_id is not None:
        _touch_agent(session, run.agent_id, now)
    return HeartbeatReply(lease_expires_at=run.lease_expires_at, cancel=run.cancel_requested)


def record_started(
    *,
    session: Session,
    run_id: int,
    payload: RunStarted,
    credential: AgentCredential = LOCAL,
) -> None:
    """Store what the run process applied and its fingerprint (once per content hash)."""
    run = _fenced_run(session, run_id, payload.attempt, credential)
    fingerprints_repository.store(
        session=session, fingerprint_hash=payload.fingerprint_hash, data=payload.fingerprint
    )
    runs_service.record_started(
        run,
        applied_profile=payload.applied_profile,
        fingerprint_hash=payload.fingerprint_hash,
        isolation=payload.isolation,
        isolation_reason=payload.isolation_reason,
        experiment_version=payload.experiment_version,
    )


def ingest_points(
    *,
    session: Session,
    run_id: int,
    payload: PointsBatch,
    credential: AgentCredential = LOCAL,
) -> int:
    """Store a batch of points for the current attempt; returns how many the batch carried."""
    run = _fenced_run(session, run_id, payload.attempt, credential)
    runs_repository.insert_series(
        session=session,
        run_id=run_id,
        attempt=payload.attempt,
        series=[(s.key, s.steps, s.values) for s in payload.series],
    )
    runs_service.set_progress(run, epoch=payload.epoch, epochs=payload.epochs)
    return payload.point_count


def finish_run(
    *,
    session: Session,
    run_id: int,
    payload: RunFinished,
    credential: AgentCredential = LOCAL,
) -> None:
    """Close the attempt with its outcome and update the job."""
    run = _fenced_run(session, run_id, payload.attempt, credential)
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
    runs_service.record_outcome(
        run,
        status=RunStatus(payload.status),
        now=now,
        final_metrics=payload.final_metrics,
        weights_checksum=payload.weights_checksum,
        epoch_checksums=payload.epoch_checksums,
        predictions=payload.predictions.model_dump() if payload.predictions else None,
        warnings=(
            [w.model_dump() for w in payload.warnings] if payload.warnings is not None else None
        ),
        seconds=payload.seconds,
        seconds_per_epoch=payload.seconds_per_epoch,
        phases=payload.phases.model_dump() if payload.phases else None,
        error=payload.error,
        traceback=payload.traceback,
    )
    if payload.status == RunStatus.SUCCEEDED.value and payload.trace is not None:
        _store_trace(session, run, payload.trace)
    runs_repository.close_attempt(
        session=session, run=run, outcome=payload.status, error=payload.error, now=now
    )
    runs_repository.store_curves(session=session, run=run)
    jobs_lifecycle.refresh_status(
        session=session, job=jobs_repository.get_job(session=session, job_id=run.job_id)
    )


def _store_trace(session: Session, run: Run, trace: RunTraceIn) -> None:
    """Keep the succeeded attempt's trace (merge: a resent finish replaces, never duplicates)."""
    runs_repository.store_trace(
        session=session,
        trace=RunTrace(
            run_id=run.id,
            attempt=run.attempt,
            layers=trace.layers,
            initial=trace.initial,
            epochs=trace.epochs,
            steps=[list(step) for step in trace.steps] if trace.steps is not None else None,
            steps_truncated=trace.steps_truncated,
        ),
    )


def reap_expired_leases(*, session: Session, now: datetime | None = None) -> list[int]:
    """Put runs whose lease expired back in the queue as their next attempt, or fail them."""
    now = now or utcnow()
    expired = queue_repository.expired_leases(session=session, now=now)
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
    runs = queue_repository.runs_of_agents(
        session=session, agent_names=agent_names, hostname=hostname
    )
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
    touched_jobs: set[int] = set()
    for run in runs:
        lost = reason(run)
        runs_repository.close_attempt(
            session=session, run=run, outcome=outcome, error=lost, now=now
        )
        runs_service.release(run, lost=lost, now=now)
        touched_jobs.add(run.job_id)
    for job_id in sorted(touched_jobs):
        job = jobs_repository.get_job(session=session, job_id=job_id)
        jobs_lifecycle.refresh_status(session=session, job=job)


def agents_ready(*, session: Session, names: Sequence[str], since: datetime) -> set[str]:
    """The local agents among `names` that registered since `since` (`seedlab up`'s lines)."""
    return queue_repository.names_seen_since(session=session, names=names, since=since)

"""Queries of the queue: the agent table, the claim, and the reaper's selects of leased runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from seedlab.errors import NotFound
from seedlab.experiments.models import AgentExperiment
from seedlab.jobs.models import Job, JobLabel
from seedlab.queue.models import Agent
from seedlab.runs.models import Run
from seedlab.status import RunStatus


def add_agent(*, session: Session, agent: Agent) -> Agent:
    """Store a new agent and give it its id."""
    session.add(agent)
    session.flush()
    return agent


def get_agent(*, session: Session, agent_id: int) -> Agent:
    """The agent, or NotFound telling it to register."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} is not registered; register first")
    return agent


def predecessors(*, session: Session, agent: Agent) -> list[int]:
    """Earlier agents of the same name on the same host registered with the same credential
    (or before credentials were recorded): a restarted agent supersedes them."""
    same_credential = (Agent.credential == agent.credential) & (
        Agent.token_id.is_(None) if agent.token_id is None else Agent.token_id == agent.token_id
    )
    return list(
        session.scalars(
            select(Agent.id).where(
                Agent.name == agent.name,
                Agent.hostname == agent.hostname,
                Agent.id != agent.id,
                same_credential | Agent.credential.is_(None),
            )
        )
    )


def token_hosts(*, session: Session, token_id: int) -> set[str]:
    """The hosts of the agents an API token registered."""
    query = select(Agent.hostname).where(Agent.credential == "token", Agent.token_id == token_id)
    return set(session.scalars(query.distinct()))


def agents_named(*, session: Session, name: str, hostname: str) -> list[Agent]:
    """Agents registered under this name on this host, any credential."""
    return list(
        session.scalars(select(Agent).where(Agent.name == name, Agent.hostname == hostname))
    )


def list_agents(*, session: Session) -> list[Agent]:
    """Every agent, most recently seen first."""
    return list(session.scalars(select(Agent).order_by(Agent.last_seen_at.desc())))


def agents_seen_since(*, session: Session, since: datetime) -> list[Agent]:
    """Agents seen at or after the given time."""
    return list(session.scalars(select(Agent).where(Agent.last_seen_at >= since)))


def runs_held(*, session: Session) -> dict[int, list[int]]:
    """The running runs each agent holds now, by agent id, in run order."""
    holding: dict[int, list[int]] = {}
    for run_id, agent_id in session.execute(
        select(Run.id, Run.agent_id)
        .where(Run.status == RunStatus.RUNNING.value, Run.agent_id.is_not(None))
        .order_by(Run.id)
    ):
        if agent_id is not None:
            holding.setdefault(agent_id, []).append(run_id)
    return holding


def claim_next(
    *,
    session: Session,
    agent: Agent,
    builtin: Sequence[str],
    now: datetime,
    lease_expires_at: datetime,
) -> int | None:
    """Lease the oldest queued run the agent can run as its next attempt; its id, or None."""
    # SKIP LOCKED lets concurrent claimers on PostgreSQL pass over each other's candidate; on
    # SQLite the write transaction (BEGIN IMMEDIATE) already serialises claimers.
    candidate = (
        select(Run.id)
        .join(Job, Job.id == Run.job_id)
        .where(
            Run.status == RunStatus.QUEUED.value,
            _can_run(agent.id, builtin),
            _capable(agent),
        )
        .order_by(Run.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Run)
        .scalar_subquery()
    )
    claimed: int | None = session.execute(
        update(Run)
        .where(Run.id == candidate, Run.status == RunStatus.QUEUED.value)
        .values(
            status=RunStatus.RUNNING.value,
            attempt=Run.attempt + 1,
            agent_id=agent.id,
            lease_expires_at=lease_expires_at,
            started_at=now,
            epoch=None,
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return claimed


def _can_run(agent_id: int, builtin: Sequence[str]) -> Any:
    """The agent runs a job's experiment when it is a built-in, or when the agent advertised
    exactly the version the job recorded (another version is another experiment)."""
    return or_(
        Job.experiment_name.in_(list(builtin)),
        exists().where(
            AgentExperiment.agent_id == agent_id,
            AgentExperiment.name == Job.experiment_name,
            AgentExperiment.version == Job.experiment_version,
        ),
    )


def agent_cpus(agent: Agent) -> int:
    """The most CPUs one run can get from the agent (an agent that did not say: one)."""
    return agent.cpus if agent.cpus is not None else 1


def _capable(agent: Agent) -> Any:
    """The agent has the job's GPUs and CPUs and every label the job requires."""
    return and_(
        Job.required_gpus <= agent.gpu_count,
        Job.required_cpus <= agent_cpus(agent),
        ~exists().where(JobLabel.job_id == Job.id, JobLabel.label.not_in(list(agent.labels))),
    )


def expired_leases(*, session: Session, now: datetime) -> list[Run]:
    """Running runs whose lease ended before now, locked (others' locked rows are skipped)."""
    return list(
        session.scalars(
            select(Run)
            .where(Run.status == RunStatus.RUNNING.value, Run.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )


def runs_of_agents(
    *, session: Session, agent_names: Sequence[str], hostname: str | None
) -> list[Run]:
    """Running runs held by agents of these names (on this host when given), locked."""
    agents = select(Agent.id).where(Agent.name.in_(list(agent_names)))
    if hostname is not None:
        agents = agents.where(Agent.hostname == hostname)
    return list(
        session.scalars(
            select(Run)
            .where(Run.status == RunStatus.RUNNING.value, Run.agent_id.in_(agents))
            .with_for_update(skip_locked=True)
        )
    )


def names_seen_since(*, session: Session, names: Sequence[str], since: datetime) -> set[str]:
    """Which of these agent names registered or reported at or after `since`."""
    query = select(Agent.name).where(Agent.name.in_(names), Agent.last_seen_at >= since)
    return set(session.scalars(query))

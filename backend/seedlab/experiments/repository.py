"""SQL on the experiment rows and the agent catalogs: what each agent advertised, which are live."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from seedlab.db import Base, utcnow
from seedlab.experiments.models import AgentCatalog, AgentExperiment, ExperimentRecord


def _agent_table() -> Table:
    """The agent table by name: it belongs to queue/, which imports this package (no cycle)."""
    return Base.metadata.tables["agent"]


@dataclass(frozen=True)
class Advertised:
    """One agent's advertisement of one experiment, with whether that agent is live."""

    name: str
    version: str
    description: str
    params_schema: dict[str, Any]
    defaults: dict[str, Any]
    source: str
    agent_id: int
    advertised_at: datetime
    live: bool
    seed_sources: tuple[str, ...] = ("init",)
    bounded_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportedSource:
    """One source as an agent reported it, with the agent's name and liveness."""

    source: str
    ok: bool
    error: str | None
    experiments: list[str]
    agent_id: int
    agent_name: str
    live: bool


def get_record(*, session: Session, name: str) -> ExperimentRecord | None:
    """The stored experiment row of this name."""
    return session.get(ExperimentRecord, name)


def add_record(*, session: Session, name: str) -> ExperimentRecord:
    """A new experiment row of this name, to be filled by the caller before the flush."""
    record = ExperimentRecord(name=name)
    session.add(record)
    return record


def replace_advertisement(
    *,
    session: Session,
    agent_id: int,
    experiments: Iterable[dict[str, Any]],
    sources: Sequence[dict[str, Any]],
    superseded_agent_ids: Sequence[int] = (),
) -> AgentCatalog:
    """Store the agent's advertisement, replacing its own and its predecessors' earlier ones."""
    forget = [*superseded_agent_ids, agent_id]
    session.execute(delete(AgentExperiment).where(AgentExperiment.agent_id.in_(forget)))
    session.execute(delete(AgentCatalog).where(AgentCatalog.agent_id.in_(forget)))
    catalog = AgentCatalog(agent_id=agent_id, advertised_at=utcnow(), sources=list(sources))
    session.add(catalog)
    session.flush()
    session.add_all(AgentExperiment(agent_id=agent_id, **item) for item in experiments)
    session.flush()
    return catalog


def advertised(*, session: Session, live_since: datetime) -> list[Advertised]:
    """Every stored advertisement, newest first, each marked live when its agent is."""
    agent = _agent_table()
    rows = session.execute(
        select(AgentExperiment, AgentCatalog.advertised_at, agent.c.last_seen_at)
        .join(AgentCatalog, AgentCatalog.agent_id == AgentExperiment.agent_id)
        .join(agent, agent.c.id == AgentCatalog.agent_id)
        .order_by(AgentCatalog.advertised_at.desc(), AgentExperiment.agent_id.desc())
    ).all()
    return [
        Advertised(
            name=item.name,
            version=item.version,
            description=item.description,
            params_schema=item.params_schema,
            defaults=item.defaults,
            source=item.source,
            agent_id=item.agent_id,
            advertised_at=advertised_at,
            live=last_seen >= live_since,
            seed_sources=tuple(item.seed_sources or ("init",)),
            bounded_metrics=tuple(item.bounded_metrics or ()),
        )
        for item, advertised_at, last_seen in rows
    ]


def advertised_bounded_metrics(*, session: Session, name: str, version: str) -> list[str] | None:
    """The bounded metrics of the newest advertisement of this experiment version, None if no
    agent advertises it (an advertisement from before 0017 declares none: [])."""
    found = session.execute(
        select(AgentExperiment.bounded_metrics)
        .join(AgentCatalog, AgentCatalog.agent_id == AgentExperiment.agent_id)
        .where(AgentExperiment.name == name, AgentExperiment.version == version)
        .order_by(AgentCatalog.advertised_at.desc(), AgentExperiment.agent_id.desc())
        .limit(1)
    ).first()
    return None if found is None else list(found[0] or [])


def live_agent_count(*, session: Session, live_since: datetime) -> int:
    """How many agents were seen since the given time."""
    agent = _agent_table()
    count = session.scalar(
        select(func.count()).select_from(agent).where(agent.c.last_seen_at >= live_since)
    )
    return int(count or 0)


def reported_sources(*, session: Session, live_since: datetime) -> list[ReportedSource]:
    """Every source each agent reported, newest advertisement first."""
    agent = _agent_table()
    rows = session.execute(
        select(AgentCatalog.sources, agent.c.id, agent.c.name, agent.c.last_seen_at)
        .join(agent, agent.c.id == AgentCatalog.agent_id)
        .order_by(AgentCatalog.advertised_at.desc(), agent.c.id.desc())
    ).all()
    return [
        ReportedSource(
            source=str(item.get("source", "")),
            ok=bool(item.get("ok")),
            error=item.get("error"),
            experiments=list(item.get("experiments", [])),
            agent_id=agent_id,
            agent_name=name,
            live=last_seen >= live_since,
        )
        for sources, agent_id, name, last_seen in rows
        for item in sources
    ]

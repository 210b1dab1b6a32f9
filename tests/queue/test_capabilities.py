"""Agents claim only runs they can execute (GPUs, labels); a job no recent agent can take says
why its runs wait; the workers listing shows online/offline and current runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from seedlab.config import Settings
from seedlab.db import Database, utcnow
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import JobCreate
from seedlab.queue import service as queue_service
from seedlab.queue.models import Agent
from seedlab.queue.schemas import AgentRegister
from tests.factory import claim, create_job, register_agent


def _reason(database: Database, job_id: int) -> str | None:
    with database.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return queue_service.queued_reason(session=session, job=job)


def test_gpu_job_goes_only_to_an_agent_with_enough_gpus(
    database: Database, settings: Settings
) -> None:
    job_id, runs = create_job(database, settings, "1:2x1", requires={"gpu": 1})
    cpu_agent = register_agent(database, "cpu", cpus=4)
    assert claim(database, settings, cpu_agent) is None
    assert _reason(database, job_id) == "no agent with 1 GPU has been seen for 10 min"
    gpu_agent = register_agent(database, "gpu", gpus=[0, 1])
    assert _reason(database, job_id) is None
    taken = [claim(database, settings, gpu_agent) for _ in runs]
    assert [t.run_id for t in taken if t is not None] == runs
    # Plain jobs still go to the agent without GPUs, after the GPU job's queued run.
    plain_id, plain_runs = create_job(database, settings, "5:1x1")
    assert claim(database, settings, cpu_agent).run_id == plain_runs[0]  # type: ignore[union-attr]
    two = create_job(database, settings, "7:1x1", requires={"gpu": 2})[0]
    assert claim(database, settings, register_agent(database, "one", gpus=[3])) is None
    assert _reason(database, two) is None  # the two-GPU agent was seen just now
    assert plain_id != two


def test_labels_must_all_be_carried(database: Database, settings: Settings) -> None:
    job_id, runs = create_job(
        database, settings, "1:1x1", requires={"labels": ["a100", "rack-2"]}
    )
    one_label = register_agent(database, "x", labels=["a100"])
    assert claim(database, settings, one_label) is None
    assert _reason(database, job_id) == (
        "no agent with labels a100, rack-2 has been seen for 10 min"
    )
    both = register_agent(database, "y", labels=["rack-2", "a100", "extra"])
    assert claim(database, settings, both).run_id == runs[0]  # type: ignore[union-attr]
    assert _reason(database, job_id) is None  # nothing queued any more


def test_reason_counts_only_agents_seen_in_the_last_ten_minutes(
    database: Database, settings: Settings
) -> None:
    job_id = create_job(database, settings, "1:1x1", requires={"gpu": 1, "labels": ["a"]})[0]
    agent = register_agent(database, "old", gpus=[0], labels=["a"])
    assert _reason(database, job_id) is None
    with database.write() as session:
        session.execute(
            update(Agent)
            .where(Agent.id == agent)
            .values(last_seen_at=utcnow() - timedelta(minutes=11))
        )
    assert _reason(database, job_id) == (
        "no agent with 1 GPU and label a has been seen for 10 min"
    )
    plain = create_job(database, settings, "2:1x1")[0]
    assert _reason(database, plain) == "no agent has been seen for 10 min"


def test_agent_listing_shows_online_capabilities_and_current_runs(
    database: Database, settings: Settings
) -> None:
    create_job(database, settings, "1:1x1")
    busy = register_agent(database, "busy", cpus=8, gpus=[0], labels=["l"])
    gone = register_agent(database, "gone")
    assignment = claim(database, settings, busy)
    assert assignment is not None
    with database.write() as session:
        session.execute(
            update(Agent)
            .where(Agent.id == gone)
            .values(last_seen_at=utcnow() - timedelta(seconds=settings.lease_seconds + 5))
        )
    with database.read() as session:
        rows = {a.id: a for a in queue_service.agent_statuses(session=session, settings=settings)}
    assert rows[busy].online and rows[busy].current_runs == [assignment.run_id]
    assert (rows[busy].cpus, rows[busy].gpus, rows[busy].labels) == (8, [0], ["l"])
    assert not rows[gone].online and rows[gone].current_runs == []


def test_invalid_requirements_and_capabilities_are_refused() -> None:
    with pytest.raises(ValidationError, match="gpu"):
        JobCreate(experiment="x", requires={"gpus": 1})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="labels"):
        JobCreate(experiment="x", requires={"labels": ["bad label"]})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="listed twice: 0"):
        AgentRegister(name="a", hostname="h", gpus=[0, 0])


def test_a_run_needing_more_cpus_goes_only_where_one_run_gets_them(
    database: Database, settings: Settings
) -> None:
    job_id, runs = create_job(database, settings, "1:1x1", requires={"cpus": 4})
    small = register_agent(database, "small", cpus=2)
    unsaid = register_agent(database, "unsaid")  # an agent that did not say: one CPU
    assert claim(database, settings, small) is None and claim(database, settings, unsaid) is None
    # No agent can ever take it: the job page says so instead of leaving it waiting.
    assert _reason(database, job_id) == "no agent with 4 CPUs has been seen for 10 min"
    big = register_agent(database, "big", cpus=4)
    assert _reason(database, job_id) is None
    taken = claim(database, settings, big)
    assert taken is not None and taken.run_id == runs[0] and taken.cpus == 4
    # One CPU, as before, for a job that says nothing.
    plain = create_job(database, settings, "2:1x1")[1]
    assert claim(database, settings, unsaid).run_id == plain[0]  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="cpus"):
        JobCreate(experiment="x", requires={"cpus": 0})  # type: ignore[arg-type]

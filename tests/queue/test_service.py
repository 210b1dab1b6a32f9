"""The database as the queue: claims, leases, fencing, retries, cancel; SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from seedlab.agent.worker import as_series
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.errors import Conflict
from seedlab.jobs import lifecycle
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.models import Job
from seedlab.queue import service as queue_service
from seedlab.queue.schemas import Heartbeat, PointsBatch
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import MetricPoint
from tests.factory import claim, create_job, expire_all_leases, finish, register_agent


def test_claims_oldest_first_and_returns_none_when_empty(
    database: Database, settings: Settings
) -> None:
    job_id = create_job(database, settings)[0]
    agent = register_agent(database)
    first = claim(database, settings, agent)
    second = claim(database, settings, agent)
    assert (first.seed, first.attempt) == (1, 1)
    assert (second.seed, second.attempt) == (2, 1)
    assert first.job_id == job_id and first.experiment == "seed_card_mlp"
    assert first.profile.op_determinism is True  # the typed run spec
    assert claim(database, settings, agent) is None
    with database.read() as session:
        assert session.get(Job, job_id).status == "running"  # type: ignore[union-attr]


def test_concurrent_claims_never_hand_out_a_run_twice(
    database: Database, settings: Settings
) -> None:
    create_job(database, settings, "1:12x1")[0]
    agents = [register_agent(database, f"a{i}") for i in range(6)]
    claimed: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(agents))

    def worker(agent_id: int) -> None:
        try:
            barrier.wait()
            while (assignment := claim(database, settings, agent_id)) is not None:
                claimed.append(assignment.run_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 12


def test_expired_lease_requeues_as_next_attempt_and_fences_the_old_one(
    database: Database, settings: Settings
) -> None:
    create_job(database, settings, "5:1x1")[0]
    old_agent, new_agent = register_agent(database, "old"), register_agent(database, "new")
    first = claim(database, settings, old_agent)
    assert expire_all_leases(database) == [first.run_id]
    second = claim(database, settings, new_agent)
    assert (second.run_id, second.attempt) == (first.run_id, 2)
    with database.write() as session, pytest.raises(Conflict, match="attempt 2"):
        queue_service.heartbeat(
            session=session,
            run_id=first.run_id,
            payload=Heartbeat(attempt=1),
            settings=settings,
        )
    with database.write() as session, pytest.raises(Conflict):
        queue_service.ingest_points(
            session=session,
            run_id=first.run_id,
            payload=PointsBatch(attempt=1, series=[{"key": "loss", "steps": [1], "values": [1.0]}]),
        )
    finish(database, second.run_id, 2)
    with database.read() as session:
        run = runs_repository.get_run(session=session, run_id=first.run_id)
        assert run is not None and run.status == "succeeded" and run.attempt == 2
        assert [(a.attempt, a.outcome) for a in run.attempts] == [
            (1, "lease_expired"),
            (2, "succeeded"),
        ]


def test_retries_are_bounded(database: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"max_attempts": 2})
    job_id = create_job(database, settings, "5:1x1")[0]
    agent = register_agent(database)
    for _ in range(2):
        assert claim(database, settings, agent) is not None
        expire_all_leases(database)
    assert claim(database, settings, agent) is None
    with database.read() as session:
        job = jobs_repository.job_with_runs(session=session, job_id=job_id)
        assert job is not None and job.status == "failed"
        assert "gave up after 2 attempts" in (job.runs[0].error or "")


def test_cancel_stops_queued_and_flags_running(database: Database, settings: Settings) -> None:
    job_id = create_job(database, settings, "1:3x1")[0]
    agent = register_agent(database)
    running = claim(database, settings, agent)
    with database.write() as session:
        lifecycle.cancel_job(session=session, job_id=job_id)
    with database.write() as session:
        reply = queue_service.heartbeat(
            session=session,
            run_id=running.run_id,
            payload=Heartbeat(attempt=1),
            settings=settings,
        )
    assert reply.cancel is True
    assert claim(database, settings, agent) is None
    finish(database, running.run_id, 1, status="cancelled")
    with database.read() as session:
        job = jobs_repository.job_with_runs(session=session, job_id=job_id)
        assert job is not None and job.status == "cancelled" and job.finished_at is not None
        assert {r.status for r in job.runs} == {"cancelled"}


def test_job_succeeds_when_every_run_succeeded(database: Database, settings: Settings) -> None:
    job_id = create_job(database, settings, "1:2x1")[0]
    agent = register_agent(database)
    for _ in range(2):
        a = claim(database, settings, agent)
        finish(database, a.run_id, a.attempt)
    with database.read() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "succeeded"


def test_resent_points_batch_is_stored_once(database: Database, settings: Settings) -> None:
    create_job(database, settings, "1:1x1")[0]
    a = claim(database, settings, register_agent(database))
    batch = PointsBatch(
        attempt=1, series=[{"key": "loss", "steps": [1, 2, 3], "values": [1.0, 0.5, 1.0 / 3]}]
    )
    for _ in range(2):
        with database.write() as session:
            queue_service.ingest_points(session=session, run_id=a.run_id, payload=batch)
    with database.read() as session:
        values = session.scalars(
            select(MetricPoint.value)
            .where(MetricPoint.run_id == a.run_id)
            .order_by(MetricPoint.step)
        ).all()
    assert values == [1.0, 0.5, 1.0 / 3]


def test_status_check_constraint_rejects_unknown_status(
    database: Database, settings: Settings
) -> None:
    create_job(database, settings, "1:1x1")[0]
    with pytest.raises(IntegrityError), database.write() as session:
        session.execute(text("UPDATE run SET status = 'bogus'"))


def test_agent_groups_buffered_points_into_the_batch_format() -> None:
    points = [("loss", 1, 0.9), ("acc", 1, 0.5), ("loss", 2, 0.8), ("acc", 2, 0.6)]
    series = as_series(points)
    assert series == [
        {"key": "loss", "steps": [1, 2], "values": [0.9, 0.8]},
        {"key": "acc", "steps": [1, 2], "values": [0.5, 0.6]},
    ]
    assert PointsBatch.model_validate({"attempt": 1, "series": series}).point_count == 4

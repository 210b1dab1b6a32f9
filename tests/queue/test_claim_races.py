"""Claim races between processes: 1,000 runs, four claimer processes, SQLite and PostgreSQL.

Each process has its own engine and connections, as separate server processes would; no run
may ever be leased to two claimers at once (each (run, attempt) is handed out exactly once).
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from sqlalchemy import func, select

from seedlab.config import Settings
from seedlab.db import Database
from seedlab.runs.models import Run, RunAttempt
from tests.factory import create_job, register_agent

RUNS = 1000
CLAIMERS = 4


def claim_until_empty(url: str, agent_id: int, start: Any) -> list[tuple[int, int]]:
    """Claim until the queue is empty; the (run, attempt) pairs this process got."""
    from seedlab.queue import service as queue_service

    database = Database(url)
    settings = Settings(database_url=url, lease_seconds=300)
    got: list[tuple[int, int]] = []
    start.wait()
    try:
        while True:
            with database.write() as session:
                assignment = queue_service.claim_run(
                    session=session, agent_id=agent_id, settings=settings
                )
            if assignment is None:
                return got
            got.append((assignment.run_id, assignment.attempt))
    finally:
        database.dispose()


def test_concurrent_claimer_processes_never_share_a_run(
    database: Database, settings: Settings, database_url: str
) -> None:
    settings = settings.model_copy(update={"max_runs_per_job": RUNS})
    create_job(database, settings, f"1:{RUNS}x1")
    agents = [register_agent(database, f"claimer-{i}") for i in range(CLAIMERS)]
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Event()
    with context.Pool(CLAIMERS) as pool:
        pending = [
            pool.apply_async(claim_until_empty, (database_url, agent, start)) for agent in agents
        ]
        start.set()
        results = [p.get(timeout=600) for p in pending]
    claims = [pair for result in results for pair in result]
    assert len(claims) == RUNS
    assert len(set(claims)) == RUNS  # no (run, attempt) handed out twice
    assert {run for run, _ in claims} == set(range(min(r for r, _ in claims), RUNS + 1))
    assert sum(1 for result in results if result) >= 2, "the claimers did not overlap"
    with database.read() as session:
        running = session.scalar(
            select(func.count()).select_from(Run).where(Run.status == "running")
        )
        attempts = session.scalar(select(func.count()).select_from(RunAttempt))
        holders = session.execute(
            select(RunAttempt.run_id, func.count()).group_by(RunAttempt.run_id)
            .having(func.count() > 1)
        ).all()
    assert running == RUNS and attempts == RUNS and holders == []

"""The CLI against the real app in process: a SeedlabClient over FastAPI's TestClient, and a
stand-in for agents that finishes a new job's runs with chosen metrics and checksums."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from fastapi.testclient import TestClient

from seedlab.agent.client import SeedlabClient
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.queue import service as queue_service
from seedlab.queue.schemas import MetricSeriesIn, PointsBatch, RunFinished
from tests.factory import BASE, claim, register_agent, start_run

# (seed, repeat) -> (final metrics, weights checksum), or None to fail the run.
Outcome = Callable[[int, int], tuple[dict[str, float], str] | None]


class InProcessClient(SeedlabClient):
    """The real client's methods, sent to the in-process app; a new job's runs end at once."""

    def __init__(self, http: TestClient, on_job: Callable[[int], None] | None = None) -> None:
        self.base_url = "http://testserver"
        self._http = http
        self._retry_seconds = 0.0
        self._on_job = on_job

    def close(self) -> None:
        pass  # the TestClient belongs to the fixture

    def post(
        self, path: str, payload: dict[str, Any] | None = None, *, retry_for: float | None = None
    ) -> Any:
        result = super().post(path, payload, retry_for=retry_for)
        creates_job = path == "/api/v1/jobs" or path.endswith("/replay-best")
        if self._on_job is not None and creates_job:
            self._on_job(int(result["id"]))
        return result


def run_everything(
    database: Database, settings: Settings, outcome: Outcome, *, epochs: int = 0
) -> None:
    """Claim every queued run and finish it as `outcome` says, the way an agent would.

    With epochs, each final metric also gets a curve that ends at its final value.
    """
    agent = register_agent(database, "in-process")
    while (assignment := claim(database, settings, agent)) is not None:
        start_run(database, assignment.run_id, BASE)
        result = outcome(assignment.seed, assignment.repeat)
        if result and epochs:
            series = [
                MetricSeriesIn(
                    key=key,
                    steps=list(range(1, epochs + 1)),
                    values=[value - 0.01 * (epochs - step) for step in range(1, epochs + 1)],
                )
                for key, value in result[0].items()
            ]
            with database.write() as session:
                queue_service.ingest_points(
                    session=session,
                    run_id=assignment.run_id,
                    payload=PointsBatch(
                        attempt=assignment.attempt, series=series, epoch=epochs, epochs=epochs
                    ),
                )
        with database.write() as session:
            queue_service.finish_run(
                session=session,
                run_id=assignment.run_id,
                payload=RunFinished(
                    attempt=assignment.attempt,
                    status="succeeded" if result else "failed",
                    final_metrics=result[0] if result else None,
                    weights_checksum=result[1] if result else None,
                    error=None if result else "boom",
                ),
            )


def cli(*commands: Callable[..., None]) -> typer.Typer:
    """A Typer app with these commands (named as seedlab names them)."""
    app = typer.Typer()
    for command in commands:
        app.command()(command)
    return app

"""GET /api/v1/jobs/{id}/wait: a long poll that answers once the job has ended, or at timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from tests.factory import claim, create_job, finish, register_agent


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def test_wait_answers_when_the_job_ends(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job_id, _ = create_job(database, settings, "1:2x1")
    agent = register_agent(database)
    first = claim(database, settings, agent)
    second = claim(database, settings, agent)
    assert first is not None and second is not None
    finish(database, first.run_id, first.attempt)
    ended_at: list[float] = []

    def finish_later() -> None:
        time.sleep(0.5)
        finish(database, second.run_id, second.attempt)
        ended_at.append(time.monotonic())

    thread = threading.Thread(target=finish_later)
    started = time.monotonic()
    thread.start()
    answer = client.get(f"/api/v1/jobs/{job_id}/wait", params={"timeout": 30})
    answered = time.monotonic()
    thread.join()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded" and body["run_counts"] == {"succeeded": 2}
    # It waited for the end, and did not wait out the 30 s.
    assert ended_at and answered >= ended_at[0] and answered - started < 30


def test_wait_gives_the_job_as_it_is_at_timeout_and_404_for_no_job(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job_id, _ = create_job(database, settings, "1:1x1")
    answer = client.get(f"/api/v1/jobs/{job_id}/wait", params={"timeout": 0.2})
    assert answer.status_code == 200 and answer.json()["status"] == "queued"
    assert client.get("/api/v1/jobs/999999/wait", params={"timeout": 0}).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}/wait", params={"timeout": 61}).status_code == 422

"""DELETE /api/v1/jobs/{id}: its runs, attempts, points, curves and traces go, nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.fingerprints.models import Fingerprint
from seedlab.queue.models import Agent
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runs.models import MetricPoint, Run, RunAttempt, RunCurve, RunTrace
from tests.factory import applied, fingerprint

TABLES = (Run, RunAttempt, MetricPoint, RunCurve, RunTrace)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def _finished_job(client: TestClient, agent_id: int, data: dict) -> int:  # type: ignore[type-arg]
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "5:1x1"})
    job_id: int = job.json()["id"]
    claim = client.post("/api/v1/agent/claim", json={"agent_id": agent_id}).json()
    run, attempt = claim["run_id"], claim["attempt"]
    started = client.post(f"/api/v1/agent/runs/{run}/started", json={
        "attempt": attempt, "applied_profile": applied(5), "fingerprint": data,
        "fingerprint_hash": fingerprint_hash(data), "isolation": "fork",
    })
    assert started.status_code == 204, started.text
    points = client.post(f"/api/v1/agent/runs/{run}/points", json={
        "attempt": attempt, "series": [{"key": "loss", "steps": [1, 2], "values": [0.5, 0.4]}],
    })
    assert points.status_code == 200, points.text
    finished = client.post(f"/api/v1/agent/runs/{run}/finish", json={
        "attempt": attempt, "status": "succeeded", "final_metrics": {"val_auc": 0.9},
        "weights_checksum": "abc",
        "trace": {"layers": ["dense"], "initial": ["i"], "epochs": [["e1"]]},
    })
    assert finished.status_code == 204, finished.text
    return job_id


def _counts(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (*TABLES, Fingerprint, Agent)
        }


def test_delete_removes_the_jobs_rows_and_nothing_else(
    client: TestClient, settings: Settings
) -> None:
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    agent = client.post("/api/v1/agent/register", json={"name": "a", "hostname": "h"}).json()
    data = fingerprint()
    kept = _finished_job(client, agent["id"], data)
    doomed = _finished_job(client, agent["id"], data)
    before = _counts(database)
    assert all(before[m.__tablename__] == 2 for m in (Run, RunAttempt, RunCurve, RunTrace))

    assert client.delete(f"/api/v1/jobs/{doomed}").status_code == 204
    after = _counts(database)
    for model in TABLES:
        assert after[model.__tablename__] == before[model.__tablename__] // 2, model
    assert after["fingerprint"] == before["fingerprint"] == 1  # shared with the kept job
    assert after["agent"] == before["agent"]
    assert client.get(f"/api/v1/jobs/{doomed}").status_code == 404
    report = client.get(f"/api/v1/jobs/{kept}/report")
    assert report.status_code == 200 and report.json()["runs"][0]["status"] == "succeeded"
    assert client.delete(f"/api/v1/jobs/{doomed}").status_code == 404


def test_a_job_still_running_is_not_deleted(client: TestClient) -> None:
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "5:1x1"})
    response = client.delete(f"/api/v1/jobs/{job.json()['id']}")
    assert response.status_code == 409 and "cancel it" in response.json()["detail"]
    client.post(f"/api/v1/jobs/{job.json()['id']}/cancel")
    assert client.delete(f"/api/v1/jobs/{job.json()['id']}").status_code == 204

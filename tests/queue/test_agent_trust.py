"""Only the agent that holds a run may write it: agents are bound to the token that registered
them, over real HTTP with --auth required (issue 19, items 1 to 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.tokens import service as tokens_service

JOB = {"experiment": "seed_card_mlp", "seeds": "1:2x1"}
ADVERT = {
    "name": "mine",
    "version": "1",
    "description": "",
    "params_schema": {"type": "object"},
    "defaults": {},
    "source": "x.py",
}


class Server:
    """A client of a server with --auth required, and named tokens."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, name: str, scope: str = "agent") -> dict[str, str]:
        if name not in self.tokens:
            database: Database = self.client.app.state.database  # type: ignore[attr-defined]
            with database.write() as session:
                created = tokens_service.create_token(session=session, name=name, scope=scope)
            self.tokens[name] = created.token
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def register(self, token: str, name: str, hostname: str = "host-a", **extra: Any) -> Any:
        return self.client.post(
            "/api/v1/agent/register",
            json={"name": name, "hostname": hostname, **extra},
            headers=self.token(token),
        )

    def claim(self, token: str, agent_id: int) -> Any:
        return self.client.post(
            "/api/v1/agent/claim", json={"agent_id": agent_id}, headers=self.token(token)
        )


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    settings = settings.model_copy(update={"auth": "required", "agent_token": "shared-agent"})
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as client:
        yield Server(client)


def _job(server: Server) -> int:
    created = server.client.post("/api/v1/jobs", json=JOB, headers=server.token("s", "submit"))
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _finish(attempt: int, checksum: str) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "status": "succeeded",
        "final_metrics": {"val_accuracy": 0.99},
        "weights_checksum": checksum,
    }


def test_another_agents_run_cannot_be_written(server: Server) -> None:
    _job(server)
    owner = server.register("t-owner", "owner").json()["id"]
    forger = server.register("t-forger", "forger", hostname="host-b").json()["id"]
    assert forger != owner
    run = server.claim("t-owner", owner).json()
    run_id, attempt = run["run_id"], run["attempt"]
    forged = {"headers": server.token("t-forger")}
    base = f"/api/v1/agent/runs/{run_id}"
    heartbeat = server.client.post(f"{base}/heartbeat", json={"attempt": attempt}, **forged)
    assert heartbeat.status_code == 403, heartbeat.text
    points = server.client.post(
        f"{base}/points",
        json={"attempt": attempt, "series": [{"key": "loss", "steps": [1], "values": [9.0]}]},
        **forged,
    )
    assert points.status_code == 403, points.text
    finish = server.client.post(f"{base}/finish", json=_finish(attempt, "f" * 64), **forged)
    assert finish.status_code == 403, finish.text
    # A stale attempt stays 409, whoever sends it.
    stale = server.client.post(f"{base}/heartbeat", json={"attempt": attempt + 5}, **forged)
    assert stale.status_code == 409, stale.text
    # Nothing forged was stored, and the real agent still writes its result.
    mine = server.client.post(
        f"{base}/finish", json=_finish(attempt, "a" * 64), headers=server.token("t-owner")
    )
    assert mine.status_code == 204, mine.text
    stored = server.client.get(f"/api/v1/runs/{run_id}", headers=server.token("r", "read"))
    assert stored.json()["weights_checksum"] == "a" * 64
    assert stored.json()["final_metrics"] == {"val_accuracy": 0.99}


def test_an_agent_cannot_claim_as_another(server: Server) -> None:
    _job(server)
    owner = server.register("t-owner", "owner", labels=["gpu-rack"]).json()["id"]
    server.register("t-forger", "forger", hostname="host-b")
    claimed = server.claim("t-forger", owner)
    assert claimed.status_code == 403, claimed.text
    assert server.claim("t-owner", owner).status_code == 200


def test_advertisement_only_by_its_owner(server: Server) -> None:
    owner = server.register("t-owner", "owner", experiments=[ADVERT]).json()["id"]
    server.register("t-forger", "forger", hostname="host-b")
    wipe = {"experiments": [], "sources": []}
    refused = server.client.put(
        f"/api/v1/agent/{owner}/advertisement", json=wipe, headers=server.token("t-forger")
    )
    assert refused.status_code == 403, refused.text
    catalog = server.client.get("/api/v1/experiments", headers=server.token("r", "read")).json()
    assert "mine" in {item["name"] for item in catalog}
    mine = server.client.put(
        f"/api/v1/agent/{owner}/advertisement", json=wipe, headers=server.token("t-owner")
    )
    assert mine.status_code == 204, mine.text


def test_a_token_registers_one_agent_host(server: Server) -> None:
    first = server.register("t-owner", "owner")
    assert first.status_code == 201
    # A restart (same name) and --concurrency workers (more names) on the same host are fine.
    assert server.register("t-owner", "owner").status_code == 201
    assert server.register("t-owner", "owner-2").status_code == 201
    elsewhere = server.register("t-owner", "owner", hostname="host-b")
    assert elsewhere.status_code == 403, elsewhere.text
    # Another token cannot take over the name: it would supersede the owner's catalog.
    taken = server.register("t-forger", "owner")
    assert taken.status_code == 403, taken.text


def test_the_shared_agent_token_and_api_tokens_stay_apart(server: Server) -> None:
    _job(server)
    shared = {"Authorization": "Bearer shared-agent"}
    local = server.client.post(
        "/api/v1/agent/register", json={"name": "local-1", "hostname": "h"}, headers=shared
    ).json()["id"]
    assert server.claim("t-owner", local).status_code == 403
    run = server.client.post("/api/v1/agent/claim", json={"agent_id": local}, headers=shared)
    assert run.status_code == 200, run.text
    beat = server.client.post(
        f"/api/v1/agent/runs/{run.json()['run_id']}/heartbeat",
        json={"attempt": run.json()["attempt"]},
        headers=shared,
    )
    assert beat.status_code == 200, beat.text


def test_each_attempt_records_who_wrote_it(server: Server) -> None:
    job_id = _job(server)
    registered = server.register("t-owner", "owner").json()
    run = server.claim("t-owner", registered["id"]).json()
    server.client.post(
        f"/api/v1/agent/runs/{run['run_id']}/finish",
        json=_finish(run["attempt"], "a" * 64),
        headers=server.token("t-owner"),
    )
    read = server.token("r", "read")
    token_id = next(
        t["id"]
        for t in server.client.get("/api/v1/tokens", headers=server.token("adm", "admin")).json()
        if t["name"] == "t-owner"
    )
    detail = server.client.get(f"/api/v1/runs/{run['run_id']}", headers=read).json()
    writer = {
        "agent_id": registered["id"],
        "agent_name": "owner",
        "credential": "token",
        "token_id": token_id,
    }
    assert {key: detail["attempts"][0][key] for key in writer} == writer
    assert {key: detail[key] for key in writer} == writer
    report = server.client.get(f"/api/v1/jobs/{job_id}/report", headers=read).json()
    summary = next(r for r in report["runs"] if r["id"] == run["run_id"])
    assert {key: summary[key] for key in writer} == writer
    # The run page says the same, in words.
    page = server.client.get(f"/runs/{run['run_id']}", headers=read)
    assert page.status_code == 200, page.text
    written_by = page.text.split('id="run-writer">', 1)[1].split("</td>", 1)[0]
    assert written_by.startswith("owner ")
    assert f"agent #{registered['id']}, token #{token_id}" in written_by


def test_diff_names_the_writer_of_each_run(server: Server) -> None:
    from seedlab.cli.diagnosis import format_diff

    _job(server)
    agent = server.register("t-owner", "owner").json()["id"]
    runs = [server.claim("t-owner", agent).json() for _ in range(2)]
    for run in runs:
        started = server.client.post(
            f"/api/v1/agent/runs/{run['run_id']}/started",
            json={
                "attempt": run["attempt"],
                "applied_profile": {},
                "fingerprint_hash": "b" * 64,
                "fingerprint": {"python": "3"},
                "isolation": "fork",
            },
            headers=server.token("t-owner"),
        )
        assert started.status_code == 204, started.text
    a, b = (run["run_id"] for run in runs)
    diff = server.client.get(f"/api/v1/runs/{a}/diff/{b}", headers=server.token("r", "read"))
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert body["writer_a"].startswith(f"agent owner (id {agent}) with token #")
    text = format_diff(body)
    assert f"run {a} written by agent owner" in text and f"run {b} written by" in text

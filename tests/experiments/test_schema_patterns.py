"""An agent-advertised `pattern` cannot freeze the server (issue 19, item 4): patterns run on
RE2 in linear time, and one RE2 cannot run is refused when advertised; SQLite and PostgreSQL.
benchmarks/bench_patterns.py measures /api/v1/health while such a schema is used."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.experiments.service import schema_problems

# Backtracking `re` takes about 2**n steps on n a's and a mismatch: minutes at 30, forever at 40.
CATASTROPHIC = r"^(a+)+$"
EVIL = "a" * 40 + "!"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"code": {"type": "string", "pattern": CATASTROPHIC, "default": "aaa"}},
}


def _bounded(call: Any, seconds: float = 60.0) -> Any:
    """call() in a thread; fails (rather than hanging the suite) if it does not end in time."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still matching after {seconds} s: not linear time"
    return result[0]


def test_a_catastrophic_pattern_is_matched_in_linear_time() -> None:
    problems = _bounded(lambda: schema_problems(SCHEMA, {"code": "a" * 100_000 + "!"}))
    assert [p["field"] for p in problems] == ["code"]
    assert "does not match" in problems[0]["rule"]
    assert schema_problems(SCHEMA, {"code": "aaaa"}) == []


def _advert(schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": "coded", "version": "v1", "description": "d", "params_schema": schema,
            "defaults": {}, "source": "module coded"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def _register(client: TestClient, schema: dict[str, Any]) -> Any:
    return client.post("/api/v1/agent/register", json={
        "name": "a1", "hostname": "h", "experiments": [_advert(schema)],
        "sources": [{"source": "module coded", "ok": True, "experiments": ["coded"]}],
    })


def test_submitting_against_a_catastrophic_pattern_leaves_the_server_answering(
    client: TestClient,
) -> None:
    assert _register(client, SCHEMA).status_code == 201
    job = {"experiment": "coded", "params": {"code": EVIL}, "seeds": "1:1x1"}
    answers: list[int] = []

    def submit_many() -> list[int]:
        for path in ("/api/v1/jobs", "/api/v1/jobs/plan") * 5:
            answers.append(client.post(path, json=job).status_code)
        return answers

    worker = threading.Thread(target=submit_many, daemon=True)
    worker.start()
    health = [client.get("/api/v1/health").status_code for _ in range(10)]
    worker.join(60)
    assert not worker.is_alive(), "the submits are still matching: not linear time"
    assert health == [200] * 10
    assert answers == [422] * 10
    refused = client.post("/api/v1/jobs", json=job).json()
    assert "params.code" in refused["detail"] and "does not match" in refused["detail"]
    ok = client.post("/api/v1/jobs", json={**job, "params": {"code": "aaaa"}})
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": r"^(a)\1$"}}},
         ["properties.x.pattern", "linear time", "backreferences"]),
        ({"type": "object", "properties": {"x": {"anyOf": [{"pattern": "(?=a)b"}]}}},
         ["properties.x.anyOf[0].pattern", "linear time"]),
        ({"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}},
         ["patternProperties is not supported"]),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_when_advertised(
    client: TestClient, schema: dict[str, Any], words: list[str]
) -> None:
    response = _register(client, schema)
    assert response.status_code == 422, response.text
    for word in words:
        assert word in response.json()["detail"]
    assert [e["name"] for e in client.get("/api/v1/experiments").json()].count("coded") == 0

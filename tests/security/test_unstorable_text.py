"""Text no database can store (NUL, unpaired surrogates): one rule on both engines, 422 naming
the field, and the plan preview agrees with submitting (issue 19, item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def _raw(client: TestClient, path: str, body: str) -> object:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/jobs/plan"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"experiment": "seed_card_mlp", "label": "a\\u0000b"}', "body.label"),
        ('{"experiment": "seed_card_mlp", "label": "a\\ud800b"}', "body.label"),
        ('{"experiment": "seed_card_mlp", "params": {"units": "x\\u0000"}}', "body.params.units"),
        ('{"experiment": "seed_card_mlp", "params": {"k\\u0000": 1}}', "body.params.k\\u0000"),
        ('{"experiment": "seed_card_mlp", "tolerance": {"a\\udfff": 0.1}}', "body.tolerance"),
        ('{"experiment": "seed\\u0000card"}', "body.experiment"),
    ],
)
def test_submit_and_plan_refuse_unstorable_text_naming_the_field(
    client: TestClient, path: str, body: str, field: str
) -> None:
    response = _raw(client, path, body)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    answer = response.json()  # type: ignore[attr-defined]
    assert answer["detail"].startswith(field), answer
    assert "NUL" in answer["detail"] and "cannot store" in answer["detail"]
    assert answer["errors"][0]["type"] == "unstorable_text"
    assert client.get("/api/v1/jobs").json()["total"] == 0


def test_agent_names_and_query_strings_follow_the_same_rule(client: TestClient) -> None:
    registered = client.post("/api/v1/agent/register", json={"name": "a\x00", "hostname": "h"})
    assert registered.status_code == 422 and "body.name" in registered.json()["detail"]
    listed = client.get("/api/v1/jobs", params={"label": "x\x00"})
    assert listed.status_code == 422 and "query.label" in listed.json()["detail"]
    # The same text without the NUL is fine, on both engines.
    ok = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "label": "a\u00e9b",
                                           "seeds": "1:1x1"})
    assert ok.status_code == 201, ok.text
    assert client.post("/api/v1/jobs/plan", json={"experiment": "seed_card_mlp",
                                                  "label": "a\u00e9b"}).status_code == 200

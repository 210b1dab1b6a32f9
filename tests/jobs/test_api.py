"""REST API through the real app and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def _submit(client: TestClient, **overrides: object) -> dict:  # type: ignore[type-arg]
    payload = {"experiment": "seed_card_mlp", "seeds": "42:2x2", "profile": "full"}
    payload.update(overrides)
    response = client.post("/api/v1/jobs", json=payload)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_list_get_report(client: TestClient) -> None:
    job = _submit(client, params={"epochs": 3})
    assert job["run_count"] == 4 and job["status"] == "queued"
    assert job["params"]["epochs"] == 3 and job["params"]["units"] == 64  # defaults filled in
    assert job["seeds"] == [42, 43] and job["repeats"] == 2
    listed = client.get("/api/v1/jobs").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    assert listed["items"][0]["run_counts"] == {"queued": 4}
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["verdict"] == "not_checked"
    assert [(r["seed"], r["repeat"], r["status"]) for r in report["runs"]] == [
        (42, 0, "queued"),
        (43, 0, "queued"),
        (42, 1, "queued"),
        (43, 1, "queued"),
    ]
    assert set(report["runs"][0]) >= {
        "id",
        "seed",
        "repeat",
        "status",
        "attempt",
        "final_metrics",
        "weights_checksum",
        "fingerprint_hash",
    }


def test_unknown_experiment_names_the_known_ones(client: TestClient) -> None:
    response = client.post("/api/v1/jobs", json={"experiment": "nope"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "nope" in detail and "seed_card_mlp" in detail and "credit_risk_mlp" in detail


def test_invalid_params_name_the_field_and_rule(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "params": {"epochs": -1}}
    )
    assert response.status_code == 422
    body = response.json()
    assert "epochs" in body["detail"]
    assert body["errors"][0]["field"] == "epochs"
    assert "greater than" in body["errors"][0]["rule"]
    unknown = client.post(
        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "params": {"epochz": 1}}
    )
    assert unknown.status_code == 422 and "epochz" in unknown.json()["detail"]


def test_seed_plan_over_limit_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "0:501x2"})
    assert response.status_code == 422
    assert "1002 runs" in response.json()["detail"]


def test_bad_profile_and_extra_fields_are_refused(client: TestClient) -> None:
    bad_preset = client.post(
        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "profile": "fastest"}
    )
    assert bad_preset.status_code == 422
    extra = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "sneaky": 1})
    assert extra.status_code == 422
    bad_env = client.post(
        "/api/v1/jobs",
        json={"experiment": "seed_card_mlp", "profile": {"env": {"LD_PRELOAD": "x"}}},
    )
    assert bad_env.status_code == 422 and "LD_PRELOAD" in bad_env.text


def test_custom_profile_is_resolved_and_stored(client: TestClient) -> None:
    job = _submit(client, profile={"preset": "full", "op_determinism": False})
    assert job["profile_name"] == "full+custom"
    assert job["profile"]["op_determinism"] is False and job["profile"]["tf_seed"] is True


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in (
        "/api/v1/jobs/999",
        "/api/v1/jobs/999/report",
        "/api/v1/runs/999",
        "/api/v1/runs/999/metrics",
        "/api/v1/experiments/nope",
        "/api/v1/fingerprints/" + "0" * 64,
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert (
            "does not exist" in response.json()["detail"] or "unknown" in response.json()["detail"]
        )
    assert client.post("/api/v1/jobs/999/cancel").status_code == 404


def test_experiments_catalog_has_json_schemas(client: TestClient) -> None:
    items = {e["name"]: e for e in client.get("/api/v1/experiments").json()}
    assert {"seed_card_mlp", "credit_risk_mlp", "digits_cnn"} <= set(items)
    schema = items["credit_risk_mlp"]["params_schema"]
    assert {
        "dataset",
        "epochs",
        "batch_size",
        "hidden_units",
        "dropout",
        "learning_rate",
        "data_seed",
    } <= set(schema["properties"])
    assert items["seed_card_mlp"]["defaults"]["n_samples"] == 100


def test_cancel_via_api(client: TestClient) -> None:
    job = _submit(client)
    response = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["run_counts"] == {"cancelled": 4}


def test_agent_endpoints_require_the_token_when_set(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"agent_token": "s3cret"})
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        body = {"name": "x", "hostname": "h"}
        assert c.post("/api/v1/agent/register", json=body).status_code == 401
        ok = c.post("/api/v1/agent/register", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201


def test_agent_protocol_roundtrip_fills_the_report(client: TestClient) -> None:
    job = _submit(client, seeds="7:1x2")
    agent = client.post("/api/v1/agent/register", json={"name": "t", "hostname": "h"}).json()
    for _ in range(2):
        claim = client.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}).json()
        run_id, attempt = claim["run_id"], claim["attempt"]
        started = client.post(
            f"/api/v1/agent/runs/{run_id}/started",
            json={
                "attempt": attempt,
                "applied_profile": {"op_determinism": True},
                "fingerprint_hash": "a" * 64,
                "fingerprint": {"python": "3.11"},
                "isolation": "fork",
            },
        )
        assert started.status_code == 204
        points = client.post(
            f"/api/v1/agent/runs/{run_id}/points",
            json={
                "attempt": attempt,
                "epoch": 2,
                "epochs": 2,
                "series": [{"key": "loss", "steps": [1, 2], "values": [0.7, 0.6]}],
            },
        )
        assert points.json() == {"accepted": 2}
        finish = client.post(
            f"/api/v1/agent/runs/{run_id}/finish",
            json={
                "attempt": attempt,
                "status": "succeeded",
                "final_metrics": {"loss": 0.6},
                "weights_checksum": "c" * 64,
                "epoch_checksums": ["b" * 64, "c" * 64],
            },
        )
        assert finish.status_code == 204
    assert client.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}).status_code == 204
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["status"] == "succeeded"
    assert report["verdict"] == "bitwise"
    assert report["metrics"]["loss"]["n"] == 1 and report["metrics"]["loss"]["mean"] == 0.6
    assert report["runs"][0]["fingerprint_hash"] == "a" * 64
    run = client.get(f"/api/v1/runs/{report['runs'][0]['id']}").json()
    assert run["applied_profile"] == {"op_determinism": True}
    assert [a["outcome"] for a in run["attempts"]] == ["succeeded"]
    metrics = client.get(f"/api/v1/runs/{run['id']}/metrics").json()
    assert metrics["series"][0]["points"] == [[1, 0.7], [2, 0.6]]
    stale = client.post(f"/api/v1/agent/runs/{run['id']}/heartbeat", json={"attempt": 1})
    assert stale.status_code == 409


def _claimed(client: TestClient) -> tuple[int, int]:
    _submit(client, seeds="7:1x1")
    agent = client.post("/api/v1/agent/register", json={"name": "t", "hostname": "h"}).json()
    claim = client.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}).json()
    return claim["run_id"], claim["attempt"]


@pytest.mark.parametrize(
    ("series", "loc", "message"),
    [
        ([{"key": "loss", "steps": [1], "values": [float("nan")]}], "values", "finite number"),
        ([{"key": "loss", "steps": [1], "values": [float("inf")]}], "values", "finite number"),
        ([{"key": "", "steps": [1], "values": [1.0]}], "key", "at least 1 character"),
        ([{"key": "k" * 101, "steps": [1], "values": [1.0]}], "key", "at most 100 characters"),
        ([{"key": "loss", "steps": [-1], "values": [1.0]}], "steps", "greater than or equal"),
        ([{"key": "loss", "steps": [1, 2], "values": [1.0]}], None, "2 steps but 1 values"),
        ([{"key": "loss", "steps": [1], "values": [1.0], "x": 1}], "x", "Extra inputs"),
        (
            [{"key": k, "steps": list(range(25_001)), "values": [0.5] * 25_001} for k in "ab"],
            None,
            "at most 50,000 points",
        ),
    ],
)
def test_points_batch_is_validated_with_clear_errors(
    client: TestClient, series: list[dict], loc: str | None, message: str  # type: ignore[type-arg]
) -> None:
    run_id, attempt = _claimed(client)
    # json.dumps writes NaN and Infinity as bare tokens (httpx's json= refuses them).
    response = client.post(
        f"/api/v1/agent/runs/{run_id}/points",
        content=json.dumps({"attempt": attempt, "series": series}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(message in e["msg"] for e in errors), errors
    if loc is not None:
        assert any(e["loc"][0] == "body" and loc in e["loc"] for e in errors), errors
    metrics = client.get(f"/api/v1/runs/{run_id}/metrics").json()
    assert metrics["series"] == []  # nothing of a refused batch is stored


def test_points_batch_stores_every_series_once(client: TestClient) -> None:
    run_id, attempt = _claimed(client)
    body = {
        "attempt": attempt,
        "epoch": 3,
        "epochs": 5,
        "series": [
            {"key": "loss", "steps": [1, 2, 3], "values": [0.9, 0.8, 0.7]},
            {"key": "val_loss", "steps": [1, 2, 3], "values": [1.0, 0.95, 0.9]},
            {"key": "empty", "steps": [], "values": []},
        ],
    }
    for _ in range(2):  # a resent batch is acknowledged and stored once
        response = client.post(f"/api/v1/agent/runs/{run_id}/points", json=body)
        assert response.json() == {"accepted": 6}
    metrics = client.get(f"/api/v1/runs/{run_id}/metrics").json()
    assert {s["key"]: s["points"] for s in metrics["series"]} == {
        "loss": [[1, 0.9], [2, 0.8], [3, 0.7]],
        "val_loss": [[1, 1.0], [2, 0.95], [3, 0.9]],
    }
    assert client.get(f"/api/v1/runs/{run_id}").json()["epoch"] == 3
    stale = client.post(f"/api/v1/agent/runs/{run_id}/points", json={**body, "attempt": 2})
    assert stale.status_code == 409
    bad = client.post(
        f"/api/v1/agent/runs/{run_id}/points",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 422


def test_openapi_documents_the_points_batch(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/agent/runs/{run_id}/points"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["properties"]["series"]["items"]["properties"]["key"]["maxLength"] == 100
    assert "$ref" not in str(schema)

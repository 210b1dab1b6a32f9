"""Each family of bad input that used to answer 500 now gets a clear 4xx (one test each)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database

HUGE = 2**70


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def _post_raw(client: TestClient, path: str, body: str) -> Any:
    # json.dumps writes NaN, Infinity and huge integers as they are (httpx's json= refuses some).
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def _claimed(client: TestClient) -> tuple[int, int]:
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "7:1x1"})
    assert job.status_code == 201, job.text
    agent = client.post("/api/v1/agent/register", json={"name": "t", "hostname": "h"}).json()
    claim = client.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}).json()
    return claim["run_id"], claim["attempt"]


def _is_clear_422(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and field in body["detail"], body


def test_integers_beyond_64_bits_in_ids_offsets_and_agent_fields(client: TestClient) -> None:
    _is_clear_422(client.get(f"/api/v1/jobs/{HUGE}"), "job_id")
    _is_clear_422(client.get(f"/api/v1/runs/{HUGE}"), "run_id")
    _is_clear_422(client.get("/api/v1/jobs", params={"offset": HUGE}), "offset")
    page = client.get(f"/?offset={HUGE}")  # pages answer with an HTML error page
    assert page.status_code == 422 and "offset" in page.text
    _is_clear_422(client.get("/api/v1/compare", params={"a": HUGE, "b": 1}), "a")
    registered = _post_raw(client, "/api/v1/agent/register",
                           f'{{"name": "a", "hostname": "h", "pid": {HUGE}}}')
    _is_clear_422(registered, "pid")
    _is_clear_422(_post_raw(client, "/api/v1/agent/claim", f'{{"agent_id": {HUGE}}}'), "agent_id")
    run_id, attempt = _claimed(client)
    beat = _post_raw(client, f"/api/v1/agent/runs/{run_id}/heartbeat",
                     f'{{"attempt": {attempt}, "epoch": {HUGE}}}')
    _is_clear_422(beat, "epoch")
    _is_clear_422(_post_raw(client, f"/api/v1/agent/runs/{run_id}/heartbeat",
                            f'{{"attempt": {HUGE}}}'), "attempt")


def test_nan_and_infinity_are_refused_and_the_answer_is_json(client: TestClient) -> None:
    for value in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"experiment": "seed_card_mlp", "tolerance": {{"val_auc": {value}}}}}'
        response = _post_raw(client, "/api/v1/jobs", body)
        _is_clear_422(response, "tolerance")
        json.loads(response.text)  # strict JSON: no bare NaN in the answer
        params = f'{{"experiment": "seed_card_mlp", "params": {{"lr": {value}}}}}'
        _is_clear_422(_post_raw(client, "/api/v1/jobs", params), "params")
    run_id, attempt = _claimed(client)
    for field in ("seconds", "seconds_per_epoch"):
        body = f'{{"attempt": {attempt}, "status": "succeeded", "{field}": NaN}}'
        _is_clear_422(_post_raw(client, f"/api/v1/agent/runs/{run_id}/finish", body), field)
    metrics = f'{{"attempt": {attempt}, "status": "succeeded", "final_metrics": {{"a": NaN}}}}'
    _is_clear_422(_post_raw(client, f"/api/v1/agent/runs/{run_id}/finish", metrics), "final")
    # A field that fails validation while the body also holds NaN elsewhere.
    mixed = '{"experiment": 5, "tolerance": {"x": NaN}}'
    assert _post_raw(client, "/api/v1/jobs", mixed).status_code == 422
    assert client.get("/api/v1/jobs").json()["total"] == 1  # only _claimed's job


def test_seed_plan_with_thousands_of_digits(client: TestClient) -> None:
    for seeds in ("9" * 5000 + ":2", "1:" + "9" * 5000, "1,2," + "9" * 5000):
        response = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": seeds})
        assert response.status_code == 422, response.text
        assert len(response.text) < 2000  # the plan is not echoed back whole
    obj = {"experiment": "seed_card_mlp", "seeds": {"base": 1, "count": 2, "repeats": 10**40}}
    assert client.post("/api/v1/jobs", json=obj).status_code == 422


def test_disallowed_variable_in_an_audit_environment_matrix(client: TestClient) -> None:
    response = client.post("/api/v1/jobs", json={
        "kind": "audit", "experiment": "seed_card_mlp",
        "audit": {"env_matrix": [{"LD_PRELOAD": "/tmp/x.so"}]},
    })
    _is_clear_422(response, "env_matrix")
    assert "LD_PRELOAD" in response.json()["detail"] and "TF_*" in response.json()["detail"]


def test_nul_byte_in_a_static_file_name(client: TestClient) -> None:
    response = client.get("/static/abc/app%00.js")
    assert response.status_code == 404
    assert client.get("/static/abc/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_deeply_nested_fingerprint_is_refused_and_nothing_unreadable_is_stored(
    client: TestClient,
) -> None:
    run_id, attempt = _claimed(client)
    nested: Any = "leaf"
    for _ in range(300):
        nested = {"a": nested}
    body = {"attempt": attempt, "applied_profile": {}, "fingerprint_hash": "f" * 64,
            "fingerprint": nested, "isolation": "fork"}
    response = client.post(f"/api/v1/agent/runs/{run_id}/started", json=body)
    _is_clear_422(response, "fingerprint")
    assert "nested more than 32 levels" in response.json()["detail"]
    assert client.get(f"/api/v1/runs/{run_id}").status_code == 200
    assert client.get(f"/api/v1/fingerprints/{'f' * 64}").status_code == 404


def test_422_does_not_echo_large_input(client: TestClient) -> None:
    big = "x" * 600_000
    response = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "label": big})
    _is_clear_422(response, "label")
    assert len(response.content) < 2000
    assert big[:1000] not in response.text


def test_many_series_and_tolerance_keys_are_bounded(client: TestClient) -> None:
    run_id, attempt = _claimed(client)
    series = [{"key": f"m{i}", "steps": [], "values": []} for i in range(1001)]
    response = client.post(
        f"/api/v1/agent/runs/{run_id}/points", json={"attempt": attempt, "series": series}
    )
    _is_clear_422(response, "series")
    tolerance = {f"m{i}": 0.1 for i in range(101)}
    response = client.post(
        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "tolerance": tolerance}
    )
    _is_clear_422(response, "tolerance")


def test_openapi_documents_error_statuses_and_string_detail(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["detail"]["type"] == "string"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            documented = set(operation["responses"])
            missing = {"400", "401", "403", "404", "409", "413", "422"} - documented
            assert not missing, (method, path, missing)
            ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (method, path)


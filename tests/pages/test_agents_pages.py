"""The workers page and the job page's queued reason, over HTTP against the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.pages.support import AgentDriver


def _register(client: TestClient, name: str, **capabilities: object) -> int:
    body = {"name": name, "hostname": "host-" + name, **capabilities}
    response = client.post("/api/v1/agent/register", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_gpu_job_shows_why_it_waits_until_a_gpu_agent_registers(client: TestClient) -> None:
    job = client.post(
        "/api/v1/jobs",
        json={"experiment": "seed_card_mlp", "seeds": "1:1x1", "requires": {"gpu": 1}},
    )
    assert job.status_code == 201, job.text
    assert job.json()["requires"] == {"gpu": 1, "cpus": 1, "labels": []}
    job_id = job.json()["id"]
    cpu = _register(client, "cpu", cpus=2)
    assert client.post("/api/v1/agent/claim", json={"agent_id": cpu}).status_code == 204
    page = client.get(f"/jobs/{job_id}")
    assert "no agent with 1 GPU has been seen for 10 min" in page.text
    live = client.get(f"/jobs/{job_id}/live").json()["html"]["status"]
    assert 'id="queued-reason"' in live and "1 GPU" in live
    gpu = _register(client, "gpu", gpus=[0])
    assert "has been seen for" not in client.get(f"/jobs/{job_id}").text
    claimed = client.post("/api/v1/agent/claim", json={"agent_id": gpu})
    assert claimed.status_code == 200 and claimed.json()["job_id"] == job_id


def test_unknown_requirement_is_refused_with_what_is_allowed(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"experiment": "seed_card_mlp", "seeds": "1:1x1", "requires": {"gpus": 1}},
    )
    assert response.status_code == 422
    assert "gpus" in response.text


def test_workers_page_lists_agents_with_capabilities_and_current_runs(
    client: TestClient, driver: AgentDriver
) -> None:
    client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:1x1"})
    assignment = driver.claim()
    _register(client, "gpu-box", cpus=16, gpus=[0, 1], labels=["a100", "rack-2"])
    page = client.get("/agents")
    assert page.status_code == 200
    assert "gpu-box" in page.text and "0, 1" in page.text and "a100, rack-2" in page.text
    assert f'<a href="/runs/{assignment["run_id"]}">run {assignment["run_id"]}</a>' in page.text
    assert page.text.count('data-online="true"') == 2
    listed = {a["name"]: a for a in client.get("/api/v1/agents").json()}
    assert listed["page-test"]["current_runs"] == [assignment["run_id"]]
    assert listed["gpu-box"]["gpus"] == [0, 1] and listed["gpu-box"]["online"] is True
    assert 'href="/agents"' in client.get("/").text

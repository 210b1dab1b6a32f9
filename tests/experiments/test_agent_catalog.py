"""The server's catalog comes from the agents: advertisement, online/offline, validation against
advertised schemas, claims by version, verdicts per version, the banner; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from seedlab.app import create_app
from seedlab.cli.jobs import experiment_line, source_line
from seedlab.config import Settings
from seedlab.db import Database, utcnow
from seedlab.queue.models import Agent
from seedlab.runner.canonical import fingerprint_hash
from tests.factory import fingerprint

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "epochs": {"type": "integer", "minimum": 1, "maximum": 500, "default": 5},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.0},
        "optimizer": {"enum": ["adam", "sgd"]},
    },
}


def advert(version: str = "v1", **changes: Any) -> dict[str, Any]:
    """An advertised experiment, fraud_mlp, as an agent sends it."""
    return {
        "name": "fraud_mlp",
        "version": version,
        "description": "our fraud model",
        "params_schema": SCHEMA,
        "defaults": {"epochs": 5, "learning_rate": 0.01, "optimizer": "adam"},
        "source": "project ./seedlab.toml",
        **changes,
    }


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def register(
    client: TestClient,
    name: str = "gpu-1",
    experiments: list[dict[str, Any]] | None = None,
    sources: list[dict[str, Any]] | None = None,
    hostname: str = "host-a",
) -> int:
    body = {
        "name": name,
        "hostname": hostname,
        "experiments": [advert()] if experiments is None else experiments,
        "sources": sources
        if sources is not None
        else [{"source": "project ./seedlab.toml", "ok": True, "experiments": ["fraud_mlp"]}],
    }
    response = client.post("/api/v1/agent/register", json=body)
    assert response.status_code == 201, response.text
    agent_id: int = response.json()["id"]
    return agent_id


def make_stale(client: TestClient, *agent_ids: int) -> None:
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    with database.write() as session:
        session.execute(
            update(Agent)
            .where(Agent.id.in_(agent_ids))
            .values(last_seen_at=utcnow() - timedelta(hours=1))
        )


def catalog(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/experiments")
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()}


def submit(client: TestClient, **payload: Any) -> Any:
    return client.post(
        "/api/v1/jobs", json={"experiment": "fraud_mlp", "seeds": "1:1x2", **payload}
    )


def claim(client: TestClient, agent_id: int) -> dict[str, Any] | None:
    response = client.post("/api/v1/agent/claim", json={"agent_id": agent_id})
    assert response.status_code in (200, 204), response.text
    return None if response.status_code == 204 else response.json()  # type: ignore[no-any-return]


def run_to_end(client: TestClient, assignment: dict[str, Any], version: str, weights: str) -> None:
    """Report the run as its run process would: started (with the version it loaded), finished."""
    data = fingerprint({"experiment.name": "fraud_mlp", "experiment.version": version})
    run_id, attempt = assignment["run_id"], assignment["attempt"]
    started = client.post(
        f"/api/v1/agent/runs/{run_id}/started",
        json={
            "attempt": attempt,
            "applied_profile": {"seed": assignment["seed"]},
            "fingerprint_hash": fingerprint_hash(data),
            "fingerprint": data,
            "isolation": "fork",
            "experiment_version": version,
        },
    )
    assert started.status_code == 204, started.text
    finished = client.post(
        f"/api/v1/agent/runs/{run_id}/finish",
        json={
            "attempt": attempt,
            "status": "succeeded",
            "final_metrics": {"loss": 0.25},
            "weights_checksum": weights * 64,
            "epoch_checksums": [weights * 64],
        },
    )
    assert finished.status_code == 204, finished.text


def test_an_advertised_experiment_is_online_then_offline_when_its_agent_goes_stale(
    client: TestClient,
) -> None:
    before = catalog(client)
    assert "fraud_mlp" not in before
    assert before["seed_card_mlp"]["online"] is False  # no agent at all yet
    agent_id = register(client)
    items = catalog(client)
    fraud = items["fraud_mlp"]
    assert fraud["online"] is True and fraud["agents"] == 1 and fraud["versions"] == ["v1"]
    assert fraud["version"] == "v1" and fraud["source"] == "project ./seedlab.toml"
    assert fraud["params_schema"] == SCHEMA and fraud["defaults"]["learning_rate"] == 0.01
    assert fraud["builtin"] is False
    # Built-ins need no advertisement: any live agent runs them.
    assert items["seed_card_mlp"]["online"] is True and items["seed_card_mlp"]["builtin"] is True
    assert client.get("/api/v1/experiments/fraud_mlp").json()["online"] is True
    form = client.get("/jobs/new").text
    assert "fraud_mlp (vv1)</option>" in form

    make_stale(client, agent_id)
    fraud = catalog(client)["fraud_mlp"]
    assert fraud["online"] is False and fraud["agents"] == 0 and fraud["versions"] == ["v1"]
    assert catalog(client)["seed_card_mlp"]["online"] is False
    form = client.get("/jobs/new").text
    assert "fraud_mlp (vv1) (offline: no live agent advertises it)</option>" in form
    assert 'data-testid="offline-warning"' in form
    # Offline is a warning, not a refusal: the runs wait for an agent.
    assert submit(client).status_code == 201
    assert "offline" in experiment_line(fraud) and "v1" in experiment_line(fraud)


def test_submission_is_validated_against_the_advertised_schema(client: TestClient) -> None:
    register(client)
    job = submit(client, params={"learning_rate": 0.5})
    assert job.status_code == 201, job.text
    body = job.json()
    assert body["params"] == {"epochs": 5, "learning_rate": 0.5, "optimizer": "adam"}
    assert body["experiment_version"] == "v1"

    too_many = submit(client, params={"epochs": 1000})
    assert too_many.status_code == 422
    detail = too_many.json()["detail"]
    assert detail.startswith("invalid parameters for fraud_mlp: params.epochs: ")
    assert "maximum of 500" in detail
    assert too_many.json()["errors"][0]["field"] == "epochs"

    wrong_type = submit(client, params={"epochs": "many"})
    assert wrong_type.status_code == 422
    assert "params.epochs: 'many' is not of type 'integer'" in wrong_type.json()["detail"]

    unknown = submit(client, params={"colour": "red"})
    assert unknown.status_code == 422
    assert "params.colour: unknown parameter; allowed: epochs, learning_rate, optimizer" in (
        unknown.json()["detail"]
    )

    not_listed = submit(client, params={"optimizer": "rmsprop"})
    assert not_listed.status_code == 422 and "params.optimizer" in not_listed.json()["detail"]

    missing = client.post("/api/v1/jobs", json={"experiment": "nope_mlp"})
    assert missing.status_code == 422
    assert "fraud_mlp" in missing.json()["detail"] and "seed_card_mlp" in missing.json()["detail"]


def test_registration_refuses_advertisements_it_cannot_use(client: TestClient) -> None:
    def attempt(experiments: list[dict[str, Any]]) -> Any:
        return client.post(
            "/api/v1/agent/register",
            json={"name": "x", "hostname": "h", "experiments": experiments},
        )

    bad_schema = attempt([advert(params_schema={"type": "no-such-type"})])
    assert bad_schema.status_code == 422
    assert "'fraud_mlp': params_schema is not a valid JSON schema" in bad_schema.json()["detail"]
    bad_default = attempt([advert(defaults={"epochs": 0})])
    assert bad_default.status_code == 422
    assert "its defaults break its schema: defaults.epochs" in bad_default.json()["detail"]
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(25):
        deep = {"type": "object", "properties": {"x": deep}}
    too_deep = attempt([advert(params_schema=deep)])
    assert too_deep.status_code == 422 and "nested" in too_deep.text
    huge = attempt([advert(description="x" * 5000)])
    assert huge.status_code == 422
    twice = attempt([advert(), advert()])
    assert twice.status_code == 422 and "advertised twice: fraud_mlp" in twice.text
    too_many = attempt([advert(name=f"e{i}") for i in range(501)])
    assert too_many.status_code == 422
    assert "fraud_mlp" not in catalog(client)


def test_a_restarted_agent_replaces_its_advertisement_and_can_update_it(
    client: TestClient,
) -> None:
    first = register(client, experiments=[advert("v1")])
    second = register(client, experiments=[advert("v2")])  # same name and host: a restart
    assert second != first
    fraud = catalog(client)["fraud_mlp"]
    assert fraud["version"] == "v2" and fraud["versions"] == ["v2"] and fraud["agents"] == 1
    response = client.put(
        f"/api/v1/agent/{second}/advertisement",
        json={"experiments": [advert("v3")], "sources": []},
    )
    assert response.status_code == 204, response.text
    assert catalog(client)["fraud_mlp"]["versions"] == ["v3"]
    assert client.get("/api/v1/experiments/sources").json() == []


def test_the_newest_live_advertisement_sets_the_job_version_and_agents_claim_only_it(
    client: TestClient,
) -> None:
    old = register(client, "old", experiments=[advert("v1")])
    bystander = register(client, "plain", experiments=[], sources=[])
    v1_job = submit(client).json()
    assert v1_job["experiment_version"] == "v1"
    new = register(client, "new", experiments=[advert("v2")])
    fraud = catalog(client)["fraud_mlp"]
    assert fraud["version"] == "v2" and fraud["versions"] == ["v2", "v1"] and fraud["agents"] == 2
    v2_job = submit(client).json()
    assert v2_job["experiment_version"] == "v2"
    builtin_job = client.post(
        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "7:1x1"}
    ).json()

    # An agent that does not advertise fraud_mlp runs only the built-in.
    taken = claim(client, bystander)
    assert taken is not None and taken["job_id"] == builtin_job["id"]
    assert claim(client, bystander) is None
    # Each version goes to the agent that advertises exactly it.
    assert {claim(client, new)["job_id"] for _ in range(2)} == {v2_job["id"]}  # type: ignore[index]
    assert claim(client, new) is None
    assert {claim(client, old)["job_id"] for _ in range(2)} == {v1_job["id"]}  # type: ignore[index]
    assert claim(client, old) is None


def test_runs_of_two_versions_are_never_compared_in_one_verdict(client: TestClient) -> None:
    agent = register(client, experiments=[advert("v1")])
    job = submit(client, seeds="1:1x3").json()
    assignments = [claim(client, agent) for _ in range(3)]
    assert all(a is not None for a in assignments)
    # The third run process loaded changed code (v2): its weights differ, but it is left out.
    run_to_end(client, assignments[0], "v1", "a")  # type: ignore[arg-type]
    run_to_end(client, assignments[1], "v1", "a")  # type: ignore[arg-type]
    run_to_end(client, assignments[2], "v2", "b")  # type: ignore[arg-type]
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["verdict"] == "bitwise"
    evidence = report["verdict_evidence"]
    assert evidence["seeds"][0]["run_ids"] == [a["run_id"] for a in assignments[:2]]  # type: ignore[index]
    assert evidence["experiment_version"] == "v1"
    assert evidence["versions"] == {
        "v1": [a["run_id"] for a in assignments[:2]],  # type: ignore[index]
        "v2": [assignments[2]["run_id"]],  # type: ignore[index]
    }
    assert "1 run(s) ran version v2 and were left out" in evidence["version_note"]
    assert evidence["version_note"] in evidence["summary"]
    assert report["metrics"]["loss"]["n"] == 1  # the spread also counts only v1's runs
    versions = {r["id"]: r["experiment_version"] for r in report["runs"]}
    assert sorted(versions.values()) == ["v1", "v1", "v2"]
    run = client.get(f"/api/v1/runs/{assignments[2]['run_id']}").json()  # type: ignore[index]
    assert run["experiment_version"] == "v2"
    page = client.get(f"/runs/{run['id']}").text
    assert '<span class="muted" id="run-experiment-version">vv2</span>' in page
    job_page = client.get(f"/jobs/{job['id']}").text
    assert "1 run(s) ran version v2 and were left out" in job_page


def test_a_single_version_job_has_no_version_note(client: TestClient) -> None:
    agent = register(client, experiments=[advert("v1")])
    job = submit(client).json()
    for _ in range(2):
        run_to_end(client, claim(client, agent), "v1", "a")  # type: ignore[arg-type]
    evidence = client.get(f"/api/v1/jobs/{job['id']}/report").json()["verdict_evidence"]
    assert evidence["versions"] == {"v1": evidence["seeds"][0]["run_ids"]}
    assert "version_note" not in evidence and "left out" not in evidence["summary"]


def test_the_jobs_page_shows_sources_that_failed_on_live_agents(client: TestClient) -> None:
    assert 'id="failed-sources"' not in client.get("/").text
    broken = register(
        client,
        "gpu-2",
        sources=[
            {"source": "project ./seedlab.toml", "ok": True, "experiments": ["fraud_mlp"]},
            {
                "source": "file ./my_model.py",
                "ok": False,
                "error": "ModuleNotFoundError: No module named 'torchvision'",
            },
        ],
    )
    html = client.get("/").text
    assert 'id="failed-sources"' in html
    assert "<code>file ./my_model.py</code> on agent <strong>gpu-2</strong>" in html
    assert "No module named &#39;torchvision&#39;" in html
    assert "<code>seedlab experiments</code>" in html
    assert "project ./seedlab.toml</code> on agent" not in html  # only failures
    sources = client.get("/api/v1/experiments/sources").json()
    assert [(s["source"], s["ok"], s["agent"], s["live"]) for s in sources] == [
        ("project ./seedlab.toml", True, "gpu-2", True),
        ("file ./my_model.py", False, "gpu-2", True),
    ]
    assert source_line(sources[0]) == (
        "  project ./seedlab.toml on agent gpu-2: loaded 1 experiment(s) (fraud_mlp)"
    )
    assert source_line(sources[1]) == (
        "  file ./my_model.py on agent gpu-2: FAILED: "
        "ModuleNotFoundError: No module named 'torchvision'"
    )
    make_stale(client, broken)
    assert 'id="failed-sources"' not in client.get("/").text
    assert "(offline)" in source_line(client.get("/api/v1/experiments/sources").json()[1])


def test_the_agent_advertises_every_experiment_it_can_run_and_the_server_accepts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seedlab.agent.worker import advertisement
    from seedlab.experiments import catalog as code_catalog
    from seedlab.experiments import service as experiments_service

    monkeypatch.setenv(code_catalog.MODULES_ENV, "tests.plugin_experiments")
    experiments, sources = advertisement()
    by_name = {e.name: e for e in experiments}
    assert {spec.name for spec in code_catalog.list_experiments()} == set(by_name)
    assert by_name["seed_card_mlp"].source == "builtin"
    assert by_name["flaky_test"].source == "module tests.plugin_experiments"
    assert {s.source: s.experiments for s in sources}["module tests.plugin_experiments"] == [
        "flaky_test"
    ]
    assert all(s.ok for s in sources)
    for item in experiments:
        # Every pydantic schema is a JSON schema whose own defaults pass the server's check.
        experiments_service.check_advert(
            name=item.name, params_schema=item.params_schema, defaults=item.defaults
        )
    # The JSON-schema check and pydantic agree on a built-in's rules and unknown names.
    problems = experiments_service.schema_problems(
        by_name["seed_card_mlp"].params_schema, {"epochs": 0, "colour": 1}
    )
    assert [p["field"] for p in problems] == ["colour", "epochs"]


def test_the_server_serves_plugins_only_as_agents_advertise_them(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedlab.experiments import catalog as code_catalog

    # Even when the server's environment names a plugin module, it does not load it.
    monkeypatch.setenv(code_catalog.MODULES_ENV, "tests.plugin_experiments")
    assert "flaky_test" not in catalog(client)
    refused = client.post("/api/v1/jobs", json={"experiment": "flaky_test"})
    assert refused.status_code == 422 and "unknown experiment 'flaky_test'" in refused.text
    flaky = advert(
        name="flaky_test",
        version="1",
        params_schema={"type": "object", "properties": {"epochs": {"type": "integer"}}},
        defaults={"epochs": 2},
    )
    register(client, experiments=[flaky])
    job = client.post("/api/v1/jobs", json={"experiment": "flaky_test", "seeds": "1:1x1"})
    assert job.status_code == 201, job.text
    assert job.json()["params"] == {"epochs": 2}


def test_the_agent_api_registers_and_updates_its_advertisement(client: TestClient) -> None:
    from seedlab.agent.client import SeedlabClient
    from seedlab.agent.protocol import AgentApi
    from seedlab.queue.schemas import AgentAdvertisement, AgentRegister

    http = SeedlabClient("http://testserver")
    http._http = client  # the app in-process, through the same HTTP client calls
    api = AgentApi(http)
    agent = api.register(
        AgentRegister.model_validate(
            {"name": "api", "hostname": "h", "experiments": [advert("v1")], "sources": []}
        )
    )
    assert catalog(client)["fraud_mlp"]["versions"] == ["v1"]
    api.advertise(agent.id, AgentAdvertisement.model_validate({"experiments": [advert("v2")]}))
    assert catalog(client)["fraud_mlp"]["versions"] == ["v2"]


def test_advertised_seed_sources_shape_a_decompose_plan(client: TestClient) -> None:
    register(client, experiments=[advert(seed_sources=["order", "init"])])
    (item,) = [e for e in client.get("/api/v1/experiments").json() if e["name"] == "fraud_mlp"]
    assert item["seed_sources"] == ["init", "order"]
    plan = client.post(
        "/api/v1/jobs/plan", json={"kind": "decompose", "experiment": "fraud_mlp", "seeds": "1:2"}
    ).json()
    assert [g["name"] for g in plan["groups"]] == ["init", "order", "kernels", "all_vary"]
    assert plan["run_count"] == 8
    bad = client.post(
        "/api/v1/agent/register",
        json={"name": "x", "hostname": "h", "experiments": [advert(seed_sources=["dropout"])]},
    )
    assert bad.status_code == 422 and "'init', 'order' or 'split'" in bad.text
    # An agent that advertises no sources (older versions) offers init alone.
    register(client, name="old", experiments=[advert(version="v2")])
    (item,) = [e for e in client.get("/api/v1/experiments").json() if e["name"] == "fraud_mlp"]
    assert item["seed_sources"] == ["init"]

"""Sweep jobs through the REST API on a real database: plan, rounds, elimination, report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from seedlab.analysis.sweep import run_race, schedule, sweep_summary
from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from tests.factory import claim, finish, register_agent

GRID = {"learning_rate": [1e-7, 0.001, 0.01]}
Value = Callable[[dict[str, Any], int], float]


@pytest.fixture
def client(database: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def sweep_body(**sweep: Any) -> dict[str, Any]:
    spec = {"grid": GRID, "metric": "val_auc", **sweep}
    return {"kind": "sweep", "experiment": "seed_card_mlp", "seeds": "42:auto", "sweep": spec}


def auc(params: dict[str, Any], seed: int) -> float:
    """A far-too-small learning rate learns nothing; the other two are close, seed-noisy."""
    if params["learning_rate"] < 1e-6:
        return 0.5 + 0.001 * (seed % 3)
    wobble = ((seed * 7919) % 13) / 1000  # shared by both: the seed's luck
    return 0.9 + wobble + (0.002 if params["learning_rate"] == 0.01 else 0.0) * (seed % 2)


def run_round(database: Database, settings: Settings, agent: int, value: Value) -> list[Any]:
    """Claim every queued run, then finish each with val_auc = value(params, seed)."""
    claimed = []
    while (assignment := claim(database, settings, agent)) is not None:
        claimed.append(assignment)
    for a in claimed:
        finish(database, a.run_id, a.attempt, final_metrics={"val_auc": value(a.params, a.seed)})
    return claimed


def test_plan_states_the_full_grid_and_the_first_round(client: TestClient) -> None:
    plan = client.post("/api/v1/jobs/plan", json=sweep_body(max_seeds=12)).json()
    assert plan["kind"] == "sweep"
    assert plan["runs_full_grid"] == 3 * 12
    assert plan["first_round"] == {"seeds": [42, 43, 44, 45, 46], "configs": 3, "runs": 15}
    assert plan["run_count"] == 15
    assert plan["configs"] == [{"learning_rate": v} for v in GRID["learning_rate"]]
    assert "full grid 36 runs" in plan["text"]
    fixed = client.post("/api/v1/jobs/plan", json={**sweep_body(), "seeds": "1:4x2"}).json()
    assert (fixed["run_count"], fixed["runs_full_grid"]) == (24, 24)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"sweep": {"metric": "val_auc"}}, "either grid"),
        ({"sweep": {"grid": {"learning_rate": [0.01]}, "metric": "val_auc"}}, "at least 2"),
        ({"sweep": {"configs": [{"units": 8}, {"units": 8}], "metric": "m"}}, "twice"),
        ({"seeds": "1,2,3"}, "'BASE:N'"),
        ({"sweep": {"grid": {"learning_rate": [5.0, 0.1]}, "metric": "val_auc"}}, "5.0"),
        ({"sweep": None}, "needs a sweep object"),
        ({"kind": "standard"}, "sweep settings need kind 'sweep'"),
        (
            {"sweep": {"grid": {"units": list(range(1, 41))}, "metric": "m", "max_seeds": 30}},
            "runs per job",
        ),
    ],
)
def test_bad_sweeps_say_why(client: TestClient, change: dict[str, Any], text: str) -> None:
    response = client.post("/api/v1/jobs", json={**sweep_body(), **change})
    assert response.status_code == 422, response.text
    assert text in response.text


def test_a_race_drops_the_bad_configuration_after_round_one(
    client: TestClient, database: Database, settings: Settings
) -> None:
    created = client.post("/api/v1/jobs", json=sweep_body(max_seeds=12))
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["kind"] == "sweep" and job["run_count"] == 15 and job["seed_plan"] == "42:auto"
    agent = register_agent(database)
    first = run_round(database, settings, agent, auc)
    assert {a.params["learning_rate"] for a in first} == set(GRID["learning_rate"])
    assert all(a.params["units"] == 64 for a in first)  # the experiment's defaults kept
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    section = report["sweep"]
    assert section["configs"][0]["eliminated_after"] == 1
    assert section["rounds"][:2] == [{"seeds": 5, "alive": 3}, {"seeds": 8, "alive": 2}]
    assert report["status"] == "running"
    while run_round(database, settings, agent, auc):
        pass
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    section = report["sweep"]
    assert report["status"] == "succeeded"
    runs = report["runs"]
    bad = [r for r in runs if r["variant"] == "learning_rate=1e-07"]
    assert len(bad) == 5  # no seeds after round 1
    # The report's numbers are the pure function's over the stored runs.
    configs = [{"learning_rate": v} for v in GRID["learning_rate"]]
    values: list[dict[int, float]] = [{} for _ in configs]
    for run in runs:
        index = configs.index({"learning_rate": _lr(run["variant"])})
        values[index][run["seed"]] = run["final_metrics"]["val_auc"]
    expected = sweep_summary(
        values,
        params=configs,
        metric="val_auc",
        mode="max",
        margin=0.0,
        rounds=section["rounds"],
        eliminated_after=[c["eliminated_after"] for c in section["configs"]],
        stop=section["stop"],
        seeds_planned=12,
    )
    for key in ("configs", "winner", "runs_used", "runs_full_grid", "rounds", "stop"):
        assert section[key] == expected[key], key
    # And the race the server ran is the one the simulation would run on the same numbers.
    seeds = range(42, 42 + max(len(v) for v in values))
    matrix = [[v.get(s, 0.0) for s in seeds] for v in values]
    replay = run_race(np.array(matrix), mode="max", totals=schedule(12))
    assert [c["eliminated_after"] for c in section["configs"]] == replay.eliminated_after
    assert section["rounds"] == replay.rounds
    assert section["winner"]["conclusion"] in ("decided", "inconclusive")
    assert section["sentence"]


def _lr(variant: str) -> float:
    return float(variant.split("=", 1)[1])


def test_without_racing_every_run_is_queued_at_once(
    client: TestClient, database: Database, settings: Settings
) -> None:
    body = {**sweep_body(race=False), "seeds": "42:4"}
    job = client.post("/api/v1/jobs", json=body).json()
    assert job["run_count"] == 12
    agent = register_agent(database)
    assert len(run_round(database, settings, agent, auc)) == 12
    assert run_round(database, settings, agent, auc) == []
    section = client.get(f"/api/v1/jobs/{job['id']}/report").json()["sweep"]
    assert section["rounds"] == [{"seeds": 4, "alive": 3}]
    assert section["runs_used"] == section["runs_full_grid"] == 12
    assert section["stop"] in ("one left", "max seeds reached")
    assert section["configs"][0]["rank"] == 3


def test_a_failed_run_ends_the_race_without_a_winner(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job = client.post("/api/v1/jobs", json=sweep_body(max_seeds=8)).json()
    agent = register_agent(database)
    claimed = []
    while (a := claim(database, settings, agent)) is not None:
        claimed.append(a)
    for a in claimed[1:]:
        finish(database, a.run_id, a.attempt, final_metrics={"val_auc": auc(a.params, a.seed)})
    finish(database, claimed[0].run_id, claimed[0].attempt, status="failed")
    while (a := claim(database, settings, agent)) is not None:  # retries, if any, fail too
        finish(database, a.run_id, a.attempt, status="failed")
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["sweep"]["reason"] == "runs failed"
    assert report["sweep"]["winner"] is None
    assert report["status"] == "failed"


def test_resubmission_of_a_sweep_is_the_same_sweep(
    client: TestClient, database: Database, settings: Settings
) -> None:
    from seedlab.jobs import service as jobs_service

    job = client.post("/api/v1/jobs", json=sweep_body(max_seeds=6, margin=0.01)).json()
    with database.read() as session:
        again = jobs_service.resubmission(session=session, job_id=job["id"])
    assert again.kind == "sweep" and again.seeds == "42:auto"
    assert again.sweep is not None and again.sweep.margin == 0.01
    assert again.sweep.configs == [{"learning_rate": v} for v in GRID["learning_rate"]]
    plan = client.post("/api/v1/jobs/plan", json=again.model_dump(mode="json")).json()
    assert plan["runs_full_grid"] == 18

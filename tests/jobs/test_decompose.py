"""Decompose jobs: the plan (which runs with which seeds), the API, and the report section."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.analysis.seedscience import decompose_variance
from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.errors import InvalidInput
from seedlab.jobs.decompose import decomposition, parse_plan
from tests import factory

ALL = ("init", "order", "split")


def plan_text(experiment: str, groups: int, m: int, total: int) -> str:
    """The plan line as the issue writes it, with the multiplication sign."""
    return f"decompose {experiment}: {groups} groups \u00d7 {m} runs + {m} all-vary = {total} runs"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def test_plan_varies_one_source_at_a_time_then_kernels_then_all() -> None:
    plan = parse_plan("42:3", experiment="credit_risk_mlp", sources=ALL, max_runs=1000)
    assert plan.text() == plan_text("credit_risk_mlp", 4, 3, 15)
    runs = [(r.group, r.seed, r.order_seed, r.split_seed, r.repeat) for r in plan.expand()]
    assert runs == [
        ("init", 42, 42, 42, 0), ("init", 43, 42, 42, 0), ("init", 44, 42, 42, 0),
        ("order", 42, 42, 42, 0), ("order", 42, 43, 42, 0), ("order", 42, 44, 42, 0),
        ("split", 42, 42, 42, 0), ("split", 42, 42, 43, 0), ("split", 42, 42, 44, 0),
        ("kernels", 42, 42, 42, 0), ("kernels", 42, 42, 42, 1), ("kernels", 42, 42, 42, 2),
        ("all_vary", 42, 42, 42, 0), ("all_vary", 43, 43, 43, 0), ("all_vary", 44, 44, 44, 0),
    ]  # fmt: skip
    assert len(runs) == plan.run_count


def test_a_source_the_experiment_lacks_gets_no_group_and_follows_the_init_seed() -> None:
    plan = parse_plan(
        {"base": 7, "count": 2}, experiment="seed_card_mlp", sources=("init", "order"),
        max_runs=1000,
    )
    assert plan.groups == ("init", "order", "kernels") and plan.run_count == 8
    assert plan.text() == "decompose seed_card_mlp: 3 groups \u00d7 2 runs + 2 all-vary = 8 runs"
    assert {r.split_seed for r in plan.expand()} == {None}
    only_init = parse_plan("7:2", experiment="x", sources=("init",), max_runs=1000)
    assert [(r.group, r.seed, r.order_seed) for r in only_init.expand()][:2] == [
        ("init", 7, None), ("init", 8, None)
    ]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ("42:3x2", "'BASE:M'"),
        ("1,2,3", "'BASE:M'"),
        ("42:1", "from 2 to 100"),
        ("42:101", "from 2 to 100"),
        ("4294967295:3", "between 0 and 4294967295"),
        ({"base": 1, "count": 3, "repeats": 2}, "'BASE:M'"),
    ],
)
def test_plan_errors_say_what_is_allowed(seeds: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_plan(seeds, experiment="e", sources=ALL, max_runs=1000)


def test_plan_over_the_run_cap_states_its_size() -> None:
    with pytest.raises(InvalidInput, match="= 500 runs; at most 100 runs per job"):
        parse_plan("0:100", experiment="e", sources=ALL, max_runs=100)


def test_preview_states_the_runs_before_submitting(client: TestClient) -> None:
    payload = {"kind": "decompose", "experiment": "credit_risk_mlp", "seeds": "42:3"}
    plan = client.post("/api/v1/jobs/plan", json=payload)
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert body["run_count"] == 15 and body["sources"] == list(ALL)
    assert body["text"] == plan_text("credit_risk_mlp", 4, 3, 15)
    assert [(g["name"], g["runs"], g["profile"]) for g in body["groups"]] == [
        ("init", 3, None), ("order", 3, None), ("split", 3, None),
        ("kernels", 3, "seeds_only"), ("all_vary", 3, None),
    ]  # fmt: skip
    assert body["groups"][1]["seeds"][2] == {"init": 42, "order": 44, "split": 42}
    assert client.get("/api/v1/jobs").json()["total"] == 0  # nothing queued
    standard = client.post(
        "/api/v1/jobs/plan", json={"experiment": "seed_card_mlp", "seeds": "42:5x2"}
    ).json()
    assert standard["run_count"] == 10 and standard["text"].endswith("= 10 runs")


def test_submit_queues_the_plan_with_seeds_and_kernels_profile(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "decompose", "experiment": "credit_risk_mlp", "seeds": "42:2",
              "params": {"epochs": 1}},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["kind"] == "decompose" and job["run_count"] == 10
    assert job["seeds"] == [42, 43] and job["seed_plan"].startswith("42:2 per group")
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    rows = [
        (r["variant"], r["init_seed"], r["order_seed"], r["split_seed"], r["repeat"])
        for r in report["runs"]
    ]
    assert rows[3] == ("order", 42, 43, 42, 0) and rows[-1] == ("all_vary", 43, 43, 43, 0)
    assert report["decomposition"] == {}  # nothing finished yet
    for run in report["runs"]:
        bundle = client.get(f"/api/v1/runs/{run['id']}/bundle").json()
        kernels = run["variant"] == "kernels"
        assert bundle["profile"]["name"] == ("seeds_only" if kernels else "full")
        assert bundle["profile"]["op_determinism"] is not kernels
    bundle = client.get(f"/api/v1/runs/{report['runs'][5]['id']}/bundle").json()
    assert (bundle["seed"], bundle["order_seed"], bundle["split_seed"]) == (42, 42, 43)
    # Submitted again (Rerun), it is the same decompose job.
    again = client.post(f"/api/v1/jobs/{job['id']}/rerun").json()
    assert again["kind"] == "decompose" and again["run_count"] == 10


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"seeds": "42:3x2"}, 422, "decompose job's seeds are 'BASE:M'"),
        ({"seeds": "42:1"}, 422, "from 2 to 100"),
        ({"profile": "none"}, 422, "turns off python_seed, numpy_seed, tf_seed, tf_data_seed"),
        ({"kind": "decomposition"}, 422, "decompose"),
        ({"audit": {"seed": 1}}, 422, "audit settings need kind 'audit'"),
        ({"experiment": "nope"}, 422, "known experiments"),
    ],
)
def test_api_errors_name_what_is_allowed(
    client: TestClient, payload: dict[str, object], status: int, message: str
) -> None:
    body = {"kind": "decompose", "experiment": "credit_risk_mlp", "seeds": "42:3", **payload}
    for path in ("/api/v1/jobs", "/api/v1/jobs/plan"):
        response = client.post(path, json=body)
        assert response.status_code == status, response.text
        assert message in response.text, response.text


def test_report_decomposes_every_final_metric(
    database: Database, settings: Settings, client: TestClient
) -> None:
    job_id, run_ids = factory.create_job(
        database, settings, "42:3", experiment="credit_risk_mlp", kind="decompose"
    )
    agent = factory.register_agent(database)
    # Made-up metrics per group: init moves the metric a lot, order a little, split a bit,
    # kernels not at all (bit-identical repeats, as on CPU).
    offsets = {"init": [0.0, 0.04, -0.04], "order": [0.0, 0.01, -0.01],
               "split": [0.0, 0.02, -0.01], "kernels": [0.0, 0.0, 0.0],
               "all_vary": [0.0, 0.05, -0.03]}  # fmt: skip
    seen: dict[str, int] = {}
    groups: dict[str, list[float]] = {}
    for _ in run_ids:
        assignment = factory.claim(database, settings, agent)
        assert assignment is not None
        run = client.get(f"/api/v1/runs/{assignment.run_id}").json()
        group = run["variant"]
        assert (assignment.seed, assignment.order_seed, assignment.split_seed) == (
            run["init_seed"], run["order_seed"], run["split_seed"]
        )
        value = 0.9 + offsets[group][seen.get(group, 0)]
        seen[group] = seen.get(group, 0) + 1
        groups.setdefault(group, []).append(value)
        factory.finish(database, assignment.run_id, assignment.attempt,
                       final_metrics={"val_auc": value})  # fmt: skip
    report = client.get(f"/api/v1/jobs/{job_id}/report").json()
    section = report["decomposition"]["val_auc"]
    assert list(section["sources"]) == ["init", "order", "split", "kernels"]
    expected = decompose_variance(
        {k: v for k, v in groups.items() if k != "all_vary"}, all_vary=groups["all_vary"]
    ).to_dict()
    assert section == expected
    assert section["sources"]["kernels"]["share"] == 0.0
    assert section["sources"]["init"]["share"] > section["sources"]["order"]["share"]
    # The verdict compares the kernels group's same-seed repeats: identical checksums are
    # not reported by this factory, the spread comes from the all-vary group.
    assert report["metrics"]["val_auc"]["n"] == 3
    assert sorted(report["metrics"]["val_auc"]["seeds"]) == [42, 43, 44]


def test_decomposition_waits_for_like_groups_and_copes_with_failed_runs() -> None:
    values = {"init": [1.0, 2.0, 4.0], "order": [1.0, 1.5, 1.2], "kernels": [1.0, 1.0, 1.0],
              "all_vary": [1.0, 3.0, 2.0]}  # fmt: skip
    runs = [(group, {"m": v}) for group, found in values.items() for v in found]
    full = decomposition(runs, sources=("init", "order"))
    assert full["m"] == decompose_variance(
        {k: v for k, v in values.items() if k != "all_vary"}, all_vary=values["all_vary"]
    ).to_dict()
    assert "split" not in full["m"]["sources"]
    # One order run failed: nothing while the job runs, the first two of each group once done.
    missing = [run for run in runs if run != ("order", {"m": 1.2})]
    assert decomposition(missing, sources=("init", "order")) == {}
    done = decomposition(missing, sources=("init", "order"), finished=True)
    assert done["m"] == decompose_variance(
        {"init": [1.0, 2.0], "order": [1.0, 1.5], "kernels": [1.0, 1.0]},
        all_vary=values["all_vary"],
    ).to_dict()
    # Fewer than two values in a group: no decomposition at all.
    lonely = [run for run in missing if run != ("order", {"m": 1.5})]
    assert decomposition(lonely, sources=("init", "order"), finished=True) == {}


def test_decompose_without_seeds_uses_its_own_default(client: TestClient) -> None:
    plan = client.post(
        "/api/v1/jobs/plan", json={"kind": "decompose", "experiment": "digits_cnn"}
    ).json()
    assert plan["seeds"] == "42:3" and plan["run_count"] == 15

"""Sequential plans, seeds needed and the percentile through the REST API (real app, real DB)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats

from seedlab.analysis.significance import seeds_for_halfwidth, seeds_for_power
from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from tests.factory import register_agent
from tests.jobs.test_sequential import WIDE, run_round

AUC = {1: 0.90, 2: 0.92, 3: 0.91, 4: 0.95, 5: 0.88}


@pytest.fixture
def client(database: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as c:
        yield c


def finished_job(client: TestClient, database: Database, settings: Settings) -> int:
    job = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:5x1"})
    assert job.status_code == 201, job.text
    run_round(database, settings, register_agent(database), AUC.__getitem__)
    return int(job.json()["id"])


def test_post_auto_plan_returns_the_rule_and_first_round(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"experiment": "seed_card_mlp", "seeds": "42:auto",
              "until": "val_auc.ci95_halfwidth<=0.002", "max_seeds": 50},
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["seed_plan"] == "42:auto" and job["seeds"] == [42, 43, 44, 45, 46]
    assert job["run_count"] == 5
    assert job["sequential"] == {
        "until": "val_auc.ci95_halfwidth<=0.002", "max_seeds": 50, "metric": "val_auc",
        "target": 0.002, "met": None, "reason": None,
        "rounds": [{"seeds": 5, "halfwidth": None}],
    }
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["sequential"]["until"] == "val_auc.ci95_halfwidth<=0.002"


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"seeds": "42:auto", "until": "val_auc<=0.1"}, 422, "METRIC.ci95_halfwidth<=NUMBER"),
        ({"seeds": "42:auto", "until": "val_auc.ci95_halfwidth<=0.1", "max_seeds": 2000}, 422,
         "max_seeds 2000 is more than the 1000 runs allowed per job"),
        ({"seeds": "42:auto"}, 422, "needs a stopping rule"),
        ({"seeds": "42:3", "until": "val_auc.ci95_halfwidth<=0.1"}, 422, "'BASE:auto'"),
        ({"seeds": "42:auto", "until": "a.ci95_halfwidth<=1", "max_seeds": 0}, 422, "max_seeds"),
    ],
)
def test_bad_sequential_submissions_say_why(
    client: TestClient, body: dict, status: int, text: str  # type: ignore[type-arg]
) -> None:
    response = client.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", **body})
    assert response.status_code == status, response.text
    assert text in response.text


def test_rounds_and_stop_reason_in_the_report(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job = client.post("/api/v1/jobs", json={
        "experiment": "seed_card_mlp", "seeds": "42:auto",
        "until": "val_auc.ci95_halfwidth<0.01", "max_seeds": 8}).json()
    agent = register_agent(database)
    while run_round(database, settings, agent, WIDE):
        pass
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    seq = report["sequential"]
    assert report["status"] == "succeeded"
    assert seq["met"] is False and seq["reason"] == "max seeds reached"
    assert [r["seeds"] for r in seq["rounds"]] == [5, 8]
    # Each round's half-width is the report's own spread CI over the seeds it had.
    ci = report["metrics"]["val_auc"]["ci95"]
    assert seq["rounds"][-1]["halfwidth"] == pytest.approx((ci[1] - ci[0]) / 2)
    assert report["metrics"]["val_auc"]["n"] == 8


def test_seeds_needed_defaults_and_targets(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job_id = finished_job(client, database, settings)
    values = list(AUC.values())
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.975, 4)) * std / np.sqrt(5)
    default = client.get(f"/api/v1/jobs/{job_id}/report").json()["seeds_needed"]["val_auc"]
    assert default["n"] == 5 and default["std"] == pytest.approx(std)
    assert default["halfwidth"]["target"] == pytest.approx(half / 2)
    assert default["halfwidth"]["seeds"] == seeds_for_halfwidth(std, half / 2)
    assert default["difference"] == {"target": pytest.approx(std), "power": 0.8,
                                     "seeds": 17}  # d = 1 at 80% power: G*Power's 17
    chosen = client.get(
        f"/api/v1/jobs/{job_id}/report", params={"halfwidth": 0.002, "difference": 0.005}
    ).json()["seeds_needed"]["val_auc"]
    assert chosen["halfwidth"] == {"target": 0.002, "seeds": seeds_for_halfwidth(std, 0.002)}
    assert chosen["difference"]["seeds"] == seeds_for_power(0.005 / std)
    assert client.get(f"/api/v1/jobs/{job_id}/report?halfwidth=0").status_code == 422
    assert client.get(f"/api/v1/jobs/{job_id}/report?difference=-1").status_code == 422


def test_percentile_of_a_value(client: TestClient, database: Database, settings: Settings) -> None:
    job_id = finished_job(client, database, settings)
    url = f"/api/v1/jobs/{job_id}/report"
    out = client.get(url, params={"value": 0.912, "metric": "val_auc"}).json()["percentile"]
    expected = stats.percentileofscore(list(AUC.values()), 0.912, kind="mean")
    assert out == {"metric": "val_auc", "value": 0.912, "percentile": pytest.approx(expected),
                   "n": 5, "higher_is_better": True}
    assert client.get(url, params={"value": 0.912}).json()["percentile"]["metric"] == "val_auc"
    # val_loss is lower-is-better: a loss below every seed's beats them all.
    loss = client.get(url, params={"value": 0.0, "metric": "val_loss"}).json()["percentile"]
    assert loss["percentile"] == 100.0 and loss["higher_is_better"] is False
    bad = client.get(url, params={"value": 0.9, "metric": "val_f1"})
    assert bad.status_code == 422
    assert "metric 'val_f1'" in bad.text and "val_auc, val_loss" in bad.text
    alone = client.get(url, params={"metric": "val_auc"})
    assert alone.status_code == 422 and "give value too" in alone.text
    assert client.get(url).json()["percentile"] is None


def test_rerun_and_clone_keep_the_rule_not_the_seeds_it_ended_with(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job = client.post("/api/v1/jobs", json={
        "experiment": "seed_card_mlp", "seeds": "42:auto",
        "until": "val_auc.ci95_halfwidth<0.01", "max_seeds": 8}).json()
    agent = register_agent(database)
    while run_round(database, settings, agent, WIDE):
        pass
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["seeds"] == list(range(42, 50))
    again = client.post(f"/api/v1/jobs/{job['id']}/rerun")
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["seed_plan"] == "42:auto" and body["seeds"] == [42, 43, 44, 45, 46]
    assert body["sequential"]["until"] == "val_auc.ci95_halfwidth<0.01"
    assert body["sequential"]["max_seeds"] == 8
    assert body["sequential"]["rounds"] == [{"seeds": 5, "halfwidth": None}]
    form = client.get(f"/jobs/new?clone={job['id']}").text
    assert 'id="seeds" name="seeds" value="42:auto"' in form
    assert 'value="val_auc.ci95_halfwidth&lt;0.01"' in form and 'value="8"' in form

"""Diff and variation endpoints and the diff page on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.runner.canonical import fingerprint_hash
from tests.factory import OTHER, create_job, fingerprint, start_run


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


def test_unknown_runs_are_404(client: TestClient, database: Database, settings: Settings) -> None:
    _, (a, _) = create_job(database, settings)
    start_run(database, a, fingerprint())
    for path in (f"/api/v1/runs/999/diff/{a}", f"/api/v1/runs/{a}/diff/999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "run 999 does not exist" in response.json()["detail"]
    assert client.get("/api/v1/jobs/999/variation").status_code == 404
    page = client.get(f"/runs/{a}/diff/999")
    assert page.status_code == 404 and 'data-testid="not-found"' in page.text


def test_run_without_fingerprint_is_422(
    client: TestClient, database: Database, settings: Settings
) -> None:
    _, (a, b) = create_job(database, settings)
    start_run(database, a, fingerprint())
    response = client.get(f"/api/v1/runs/{a}/diff/{b}")
    assert response.status_code == 422
    assert f"run {b} has no fingerprint yet" in response.json()["detail"]
    page = client.get(f"/runs/{a}/diff/{b}")
    assert page.status_code == 422 and f"run {b} has no fingerprint yet" in page.text


def test_diff_of_two_runs(client: TestClient, database: Database, settings: Settings) -> None:
    _, (a, b) = create_job(database, settings)
    start_run(database, a, fingerprint())
    start_run(database, b, OTHER, op_determinism=False)
    response = client.get(f"/api/v1/runs/{a}/diff/{b}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run_a"], body["run_b"], body["identical"]) == (a, b, False)
    assert (body["seed_a"], body["seed_b"]) == (1, 2)
    assert body["fingerprint_a"] == fingerprint_hash(fingerprint())
    assert body["fields"] == [
        {"name": "applied.op_determinism", "a": True, "b": False, "risk": "high"},
        {"name": "env.TF_ENABLE_ONEDNN_OPTS", "a": None, "b": "0", "risk": "high"},
        {"name": "onednn", "a": "default (on)", "b": "off", "risk": "high"},
        {"name": "distributions", "a": "4 distributions",
         "b": "4 distributions (1 added, 1 removed)", "risk": "low"},
        {"name": "hostname", "a": "worker-1", "b": "worker-2", "risk": "none"},
    ]
    assert body["packages"] == {
        "added": ["tf-keras==2.18.0"], "removed": ["ml-dtypes==0.4.1"], "changed": [],
    }


def test_same_environment_is_identical(
    client: TestClient, database: Database, settings: Settings
) -> None:
    _, (a, b) = create_job(database, settings)
    start_run(database, a, fingerprint())
    start_run(database, b, fingerprint())  # another seed, same fingerprint and toggles
    body = client.get(f"/api/v1/runs/{a}/diff/{b}").json()
    assert body["identical"] is True and body["fields"] == []
    assert body["fingerprint_a"] == body["fingerprint_b"]
    page = client.get(f"/runs/{a}/diff/{b}")
    assert page.status_code == 200
    assert 'data-testid="diff-identical"' in page.text and "Identical environments" in page.text
    assert 'id="diff-table"' not in page.text and 'id="package-diff"' not in page.text


def test_diff_page_shows_fields_risks_and_packages(
    client: TestClient, database: Database, settings: Settings
) -> None:
    _, (a, b) = create_job(database, settings)
    start_run(database, a, fingerprint())
    start_run(database, b, OTHER)
    page = client.get(f"/runs/{a}/diff/{b}")
    assert page.status_code == 200, page.text
    html = page.text
    for name, risk in (("onednn", "high"), ("env.TF_ENABLE_ONEDNN_OPTS", "high"),
                       ("distributions", "low"), ("hostname", "none")):
        assert f'data-field="{name}" data-risk="{risk}"' in html
    assert 'data-high="2" data-low="1" data-none="1"' in html
    assert '<details id="package-diff"' in html and "tf-keras==2.18.0" in html
    assert "ml-dtypes==0.4.1" in html
    assert f'href="/runs/{a}"' in html and f'href="/runs/{b}"' in html
    assert "Identical environments" not in html


def test_job_variation(client: TestClient, database: Database, settings: Settings) -> None:
    job_id, runs = create_job(database, settings, seeds="1:2x2")  # four runs
    start_run(database, runs[0], fingerprint())
    start_run(database, runs[1], fingerprint())
    start_run(database, runs[2], OTHER, op_determinism=False)
    response = client.get(f"/api/v1/jobs/{job_id}/variation")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["runs_compared"] == runs[:3] and body["runs_without_fingerprint"] == runs[3:]
    fields = {f["name"]: f for f in body["fields"]}
    assert [f["name"] for f in body["fields"]] == [
        "applied.op_determinism", "env.TF_ENABLE_ONEDNN_OPTS", "onednn",
        "distributions.ml-dtypes", "distributions.tf-keras", "hostname",
    ]
    assert fields["onednn"] == {
        "name": "onednn",
        "risk": "high",
        "values": [
            {"value": "default (on)", "runs": 2, "run_ids": runs[:2]},
            {"value": "off", "runs": 1, "run_ids": [runs[2]]},
        ],
    }
    assert fields["hostname"]["risk"] == "none"


def test_job_without_fingerprints_has_no_variation(
    client: TestClient, database: Database, settings: Settings
) -> None:
    job_id, runs = create_job(database, settings)
    body = client.get(f"/api/v1/jobs/{job_id}/variation").json()
    assert body == {
        "job_id": job_id, "runs_compared": [], "runs_without_fingerprint": runs, "fields": [],
    }

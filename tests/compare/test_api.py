"""The compare endpoint, page and CLI through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from scipy import stats
from typer.testing import CliRunner

from seedlab.agent.client import SeedlabClient
from seedlab.app import create_app
from seedlab.cli import diagnosis as compare_cli
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.pages.static import plotly_url
from tests.compare.test_service import A, B, auc_job, make_job


@pytest.fixture
def client(database: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, Database(settings.resolved_database_url()))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def jobs(database: Database, settings: Settings) -> tuple[int, int]:
    return auc_job(database, settings, A), auc_job(database, settings, B)


def _figure(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="compare-figure">(.*?)</script>', page)
    assert found, "the page embeds its figure"
    figure: dict[str, Any] = json.loads(found.group(1))
    return figure


# ---- the JSON endpoint ----


def test_compare_endpoint(client: TestClient, jobs: tuple[int, int]) -> None:
    job_a, job_b = jobs
    response = client.get("/api/v1/compare", params={"a": job_a, "b": job_b, "metric": "val_auc"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["a"]["job_id"] == job_a and body["b"]["values"] == B
    assert body["diff"] == pytest.approx(0.022)
    assert body["p_welch"] == stats.ttest_ind(A, B, equal_var=False).pvalue
    assert body["p_mannwhitney"] == stats.mannwhitneyu(A, B, alternative="two-sided").pvalue
    assert body["paired"] is True and body["significant"] is True
    assert body["seeds_needed"] == 5
    lo, hi = body["ci95"]
    assert lo < body["diff"] < hi
    assert body["sentence"] == (
        f"B beats A by 0.022 val_auc (95% CI {lo:.3g} to {hi:.3g}, p = 0.0095, 5 seeds each)."
    )
    # Deterministic: asking again gives the same bootstrap interval.
    again = client.get("/api/v1/compare", params={"a": job_a, "b": job_b, "metric": "val_auc"})
    assert again.json() == body


def test_compare_endpoint_same_job_is_within_noise(
    client: TestClient, jobs: tuple[int, int]
) -> None:
    job_a, _ = jobs
    body = client.get(
        "/api/v1/compare", params={"a": job_a, "b": job_a, "metric": "val_auc"}
    ).json()
    assert body["diff"] == 0 and body["significant"] is False and body["p_wilcoxon"] is None
    assert body["sentence"].startswith("The difference in val_auc is within seed noise (p = 1,")


def test_direction_and_override(client: TestClient, jobs: tuple[int, int]) -> None:
    job_a, job_b = jobs
    params: dict[str, Any] = {"a": job_a, "b": job_b, "metric": "val_loss"}
    auto = client.get("/api/v1/compare", params=params).json()
    assert auto["higher_is_better"] is False
    assert auto["sentence"].startswith("B beats A by 0.022 val_loss (lower is better;")
    forced = client.get("/api/v1/compare", params={**params, "higher_is_better": "true"}).json()
    assert forced["higher_is_better"] is True and forced["sentence"].startswith("A beats B")


def test_unknown_job_is_404(client: TestClient, jobs: tuple[int, int]) -> None:
    response = client.get("/api/v1/compare", params={"a": jobs[0], "b": 4242, "metric": "val_auc"})
    assert response.status_code == 404
    assert response.json()["detail"] == "job 4242 does not exist"


def test_missing_metric_is_422_naming_the_metrics(
    client: TestClient, jobs: tuple[int, int]
) -> None:
    job_a, job_b = jobs
    response = client.get("/api/v1/compare", params={"a": job_a, "b": job_b, "metric": "f1"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"job {job_a} has no final metric 'f1'; it has: val_auc, val_loss"
    )


def test_fewer_than_two_seeds_is_422(
    client: TestClient, jobs: tuple[int, int], database: Database, settings: Settings
) -> None:
    single = make_job(database, settings, [{"val_auc": 0.9}, None, None, None, None])
    response = client.get(
        "/api/v1/compare", params={"a": jobs[0], "b": single, "metric": "val_auc"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f"job {single} has 1 succeeded seed(s) with val_auc" in detail
    assert "at least 2 seeds per job" in detail


def test_query_parameters_are_validated(client: TestClient, jobs: tuple[int, int]) -> None:
    assert client.get("/api/v1/compare", params={"a": jobs[0], "b": jobs[1]}).status_code == 422
    bad = client.get("/api/v1/compare", params={"a": "x", "b": jobs[1], "metric": "val_auc"})
    assert bad.status_code == 422


def test_endpoint_is_in_the_openapi_schema_and_the_page_is_not(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/compare" in paths and "/compare" not in paths
    params = {p["name"] for p in paths["/api/v1/compare"]["get"]["parameters"]}
    assert params == {"a", "b", "metric", "higher_is_better"}


# ---- the page ----


def test_empty_page_shows_the_form(client: TestClient) -> None:
    response = client.get("/compare")
    assert response.status_code == 200
    page = response.text
    assert 'id="compare-form"' in page and 'name="a"' in page and 'name="metric"' in page
    assert "compare-verdict" not in page and "compare-error" not in page
    assert plotly_url() not in page  # nothing to draw, nothing to load


def test_page_shows_sentence_figure_and_statistics(
    client: TestClient, jobs: tuple[int, int]
) -> None:
    job_a, job_b = jobs
    response = client.get(f"/compare?a={job_a}&b={job_b}&metric=val_auc")
    assert response.status_code == 200
    page = response.text
    api = client.get("/api/v1/compare", params={"a": job_a, "b": job_b, "metric": "val_auc"}).json()
    assert api["sentence"] in html.unescape(page)
    assert 'data-significant="true"' in page
    assert plotly_url() in page and 'id="compare-chart"' in page
    figure = _figure(page)
    assert [t["type"] for t in figure["data"]] == ["box", "box"]
    assert figure["data"][0]["y"] == A and figure["data"][1]["y"] == B
    assert 'id="compare-stats"' in page and "Wilcoxon signed-rank p" in page
    assert f'href="/jobs/{job_a}"' in page and f'href="/jobs/{job_b}"' in page
    assert f'value="{job_a}"' in page  # the form keeps the choice


def test_page_picks_a_default_metric_both_jobs_report(
    client: TestClient, jobs: tuple[int, int]
) -> None:
    job_a, job_b = jobs
    page = client.get(f"/compare?a={job_a}&b={job_b}").text
    assert "B beats A by 0.022 val_auc" in page
    assert 'value="val_auc"' in page
    assert '<option value="val_loss">' in page  # the metric list offers what both share


def test_page_errors_keep_the_form(client: TestClient, jobs: tuple[int, int]) -> None:
    job_a, job_b = jobs
    missing = client.get(f"/compare?a={job_a}&b=4242&metric=val_auc")
    assert missing.status_code == 404
    assert "job 4242 does not exist" in missing.text and 'id="compare-form"' in missing.text
    metric = client.get(f"/compare?a={job_a}&b={job_b}&metric=f1")
    assert metric.status_code == 422
    assert "no final metric 'f1'; it has: val_auc, val_loss" in html.unescape(metric.text)
    assert 'id="compare-chart"' not in metric.text
    bad = client.get(f"/compare?a=abc&b={job_b}")
    assert bad.status_code == 422
    assert "job A must be a job id" in bad.text
    direction = client.get(f"/compare?a={job_a}&b={job_b}&better=sideways")
    assert direction.status_code == 422 and "better must be one of" in direction.text


def test_page_direction_choice(client: TestClient, jobs: tuple[int, int]) -> None:
    job_a, job_b = jobs
    page = client.get(f"/compare?a={job_a}&b={job_b}&metric=val_auc&better=lower").text
    assert "A beats B by 0.022 val_auc (lower is better;" in page
    assert '<option value="lower" selected>' in page


# ---- the CLI ----


class _InProcessClient(SeedlabClient):
    """A SeedlabClient whose requests go to the in-process app."""

    def __init__(self, http: TestClient) -> None:
        self.base_url = "http://testserver"
        self._http = http
        self._retry_seconds = 0.0

    def close(self) -> None:
        """The test fixture owns the TestClient."""


def _cli(client: TestClient, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: _InProcessClient(client))
    app = typer.Typer()
    app.command()(compare_cli.compare)
    return CliRunner().invoke(app, list(args))


def test_cli_prints_the_sentence_and_statistics(
    client: TestClient, jobs: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_a, job_b = jobs
    result = _cli(client, monkeypatch, str(job_a), str(job_b), "--metric", "val_auc")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("B beats A by 0.022 val_auc (95% CI ")
    assert f"A: job {job_a} seed_card_mlp seeds 1:5x1 profile full: n=5 mean=0.916" in lines[1]
    assert "Welch p=0.00954403" in result.output and "same seeds: paired t p=" in result.output
    assert "seeds per job for 80% power: 5" in result.output


def test_cli_json(
    client: TestClient, jobs: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_a, job_b = jobs
    result = _cli(client, monkeypatch, str(job_a), str(job_b), "--metric", "val_auc", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["a"]["job_id"] == job_a and body["significant"] is True


def test_cli_errors_exit_2(
    client: TestClient, jobs: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _cli(client, monkeypatch, str(jobs[0]), "4242", "--metric", "val_auc")
    assert result.exit_code == 2
    assert "error: job 4242 does not exist" in result.output
    missing = _cli(client, monkeypatch, str(jobs[0]), str(jobs[1]))
    assert missing.exit_code == 2 and "--metric" in missing.output

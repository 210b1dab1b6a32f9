"""Issue 14 without a browser: filters, the stored verdict, label, clone, rerun, experiment page,
the collapsed evidence, runs pages and error pages, through the real app and database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from tests.pages.support import AgentDriver, table_rows


def _submit(client: TestClient, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "experiment": "credit_risk_mlp",
        "seeds": "42:2x2",
        "profile": "full",
        "params": {"epochs": 4},
        "label": "baseline",
    }
    payload.update(overrides)
    response = client.post("/api/v1/jobs", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(html: str) -> list[int]:
    return [int(r.attrs["data-job-id"]) for r in table_rows(html, "jobs-table")]


def test_verdict_is_stored_when_the_job_ends_and_the_jobs_list_filters_on_it(
    client: TestClient, driver: AgentDriver
) -> None:
    same = _submit(client, seeds="1:1x2", label="Baseline run")
    driver.complete_next(epochs=2)
    assert client.get(f"/api/v1/jobs/{same['id']}").json()["verdict"] is None  # still running
    driver.complete_next(epochs=2)
    differ = _submit(client, seeds="2:1x2", label="after the driver upgrade", profile="none")
    driver.complete_next(epochs=3)
    driver.complete_next(epochs=3, salt="other order")
    queued = _submit(client, experiment="credit_risk_mlp", seeds="3:1x1", label="50%_off")
    assert client.get(f"/api/v1/jobs/{same['id']}").json()["verdict"] == "bitwise"
    assert client.get(f"/api/v1/jobs/{differ['id']}").json()["verdict"] == "nondeterministic"

    assert _ids(client.get("/?verdict=bitwise").text) == [same["id"]]
    assert _ids(client.get("/?verdict=nondeterministic").text) == [differ["id"]]
    assert _ids(client.get("/?status=queued").text) == [queued["id"]]
    assert _ids(client.get("/?profile=none").text) == [differ["id"]]
    assert _ids(client.get("/?q=BASELINE").text) == [same["id"]]  # case-insensitive
    assert _ids(client.get("/?q=%25_").text) == [queued["id"]]  # % and _ match literally
    assert _ids(client.get("/?experiment=credit_risk_mlp&verdict=bitwise&q=base").text) == [
        same["id"]
    ]
    html = client.get("/?verdict=bitwise").text
    assert 'id="job-count" data-total="1"' in html and "1 job match these filters" in html
    assert '<option value="bitwise" selected>' in html and 'id="clear-filters"' in html
    rows = table_rows(client.get("/").text, "jobs-table")
    assert [r.cells[7] for r in rows] == ["—", "nondeterministic", "bitwise"]
    empty = client.get("/?q=nothing-like-this").text
    assert 'data-testid="empty"' in empty and "No job matches these filters" in empty

    # The API takes the same filters.
    api = client.get("/api/v1/jobs", params={"verdict": "bitwise"}).json()
    assert [j["id"] for j in api["items"]] == [same["id"]] and api["items"][0]["verdict"]
    bad = client.get("/?verdict=flaky")
    assert bad.status_code == 422 and 'data-testid="error-page"' in bad.text
    assert "unknown verdict &#39;flaky&#39;; allowed: bitwise" in bad.text


def test_pagination_keeps_the_filters(client: TestClient) -> None:
    for i in range(27):
        _submit(client, seeds="1:1x1", label=f"sweep {i}")
    _submit(client, seeds="1:1x1", label="other")
    page1 = client.get("/?q=sweep").text
    assert len(_ids(page1)) == 25 and "27 jobs match these filters" in page1
    assert 'href="/?q=sweep&amp;offset=25"' in page1
    page2 = client.get("/?q=sweep&offset=25").text
    assert len(_ids(page2)) == 2 and 'href="/?q=sweep&amp;offset=0"' in page2


def test_label_is_edited_through_patch_validated_and_cleared(client: TestClient) -> None:
    job = _submit(client)
    response = client.patch(f"/api/v1/jobs/{job['id']}", json={"label": "  renamed  "})
    assert response.status_code == 200 and response.json()["label"] == "renamed"
    assert "renamed" in client.get(f"/jobs/{job['id']}").text
    assert client.patch(f"/api/v1/jobs/{job['id']}", json={"label": "x" * 201}).status_code == 422
    extra = client.patch(f"/api/v1/jobs/{job['id']}", json={"label": "a", "status": "failed"})
    assert extra.status_code == 422
    assert client.patch(f"/api/v1/jobs/{job['id']}", json={"label": ""}).json()["label"] is None
    assert client.patch("/api/v1/jobs/999", json={"label": "a"}).status_code == 404


def test_clone_prefills_the_form_and_rerun_submits_the_same_job(client: TestClient) -> None:
    job = _submit(
        client,
        seeds="7,9x3",
        params={"epochs": 3, "hidden_units": 8},
        profile={"preset": "full", "single_thread": False, "trace": True},
        tolerance={"val_loss": 1e-6},
        label="tuned",
    )
    html = client.get(f"/jobs/new?clone={job['id']}").text
    assert 'id="clone-note"' in html
    assert 'id="seeds" name="seeds" value="7,9x3"' in html
    epochs = re.search(r'<input type="number" id="param-credit_risk_mlp-epochs"[^>]*>', html)
    assert epochs and 'value="3"' in epochs.group(0)
    units = re.search(r'<input type="number" id="param-credit_risk_mlp-hidden_units"[^>]*>', html)
    assert units and 'value="8"' in units.group(0)
    assert 'id="customise" name="customise" checked' in html
    assert 'id="toggle-single_thread">' in html  # unchecked: the override
    assert 'id="trace" name="trace" checked' in html
    assert 'value="tuned"' in html and 'value="val_loss=1e-06"' in html
    assert client.get("/jobs/new?clone=999").status_code == 404

    response = client.post(f"/jobs/{job['id']}/rerun", follow_redirects=False)
    assert response.status_code == 303
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    old, new = (client.get(f"/api/v1/jobs/{i}").json() for i in (job["id"], new_id))
    for key in (
        "experiment",
        "params",
        "seed_plan",
        "profile",
        "profile_name",
        "tolerance",
        "label",
        "run_count",
    ):
        assert new[key] == old[key], key
    assert new["status"] == "queued"


def test_evidence_collapses_when_every_seed_agrees_and_opens_on_the_differing_ones(
    client: TestClient, driver: AgentDriver
) -> None:
    agree = _submit(client, seeds="42:3x2")
    for _ in range(6):
        driver.complete_next(epochs=2)
    html = client.get(f"/jobs/{agree['id']}").text
    assert '<details id="evidence">' in html
    assert "all 3 repeated seeds agree bit-for-bit" in html
    assert html.index('id="verdict-line"') < html.index('id="params-table"')  # verdict first
    assert "Reproducible:" in html

    differ = _submit(client, seeds="1:3x2")
    for i in range(6):  # the second repeat of seed 2 (the fifth run) differs
        driver.complete_next(epochs=4, salt="x" if i == 4 else "")
    html = client.get(f"/jobs/{differ['id']}").text
    assert '<details id="evidence" open>' in html
    assert [r.attrs["data-seed"] for r in table_rows(html, "evidence-table")] == ["2"]
    assert "2 others agree bit-for-bit" in html
    assert "Not reproducible:" in html and "audit the randomness sources" in html


def test_strip_plot_names_each_run_and_draws_the_reports_ci(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="42:3x1")
    for _ in range(3):
        driver.complete_next(epochs=2)
    html = client.get(f"/jobs/{job['id']}").text
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    start = html.index('data-figure="') + len('data-figure="')
    raw = html[start : html.index('"', start)]
    figure = json.loads(
        raw.replace("&#34;", '"')
        .replace("&quot;", '"')
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )
    boxes = {t["name"]: t for t in figure["data"] if t["type"] == "box"}
    assert set(boxes) == set(report["metrics"])
    runs = {r["seed"]: r["id"] for r in report["runs"]}
    assert boxes["val_auc"]["text"] == [f"seed {s} · run {runs[s]}" for s in (42, 43, 44)]
    mean = next(t for t in figure["data"] if t.get("name") == "mean of val_auc")
    ci = report["metrics"]["val_auc"]["ci95"]
    assert mean["y"] == [report["metrics"]["val_auc"]["mean"]]
    assert mean["y"][0] + mean["error_y"]["array"][0] == ci[1]


def test_runs_table_is_paginated_and_progress_bars_show_epochs(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="1:30x2")
    driver.complete_next(epochs=4)
    html = client.get(f"/jobs/{job['id']}").text
    rows = table_rows(html, "runs-table")
    assert len(rows) == 50 and 'id="runs-pager"' in html and "runs 1\N{EN DASH}50 of 60" in html
    assert '<progress max="4" value="4" aria-label="run #' in html
    second = client.get(f"/jobs/{job['id']}?runs_offset=50").text
    assert len(table_rows(second, "runs-table")) == 10
    live = client.get(f"/jobs/{job['id']}/live?runs_offset=50").json()
    assert len(table_rows(live["html"]["runs"], "runs-table")) == 10


def test_experiment_page_shows_every_job_with_verdict_and_spread_filtered(
    client: TestClient, driver: AgentDriver
) -> None:
    first = _submit(client, seeds="1:3x1", params={"epochs": 2}, label="before")
    for _ in range(3):
        driver.complete_next(epochs=2)
    second = _submit(client, seeds="1:3x1", params={"epochs": 3}, profile="none", label="after")
    for _ in range(3):
        driver.complete_next(epochs=3)
    html = client.get("/experiments/credit_risk_mlp?metric=val_loss").text
    rows = table_rows(html, "history-table")
    assert [r.attrs["data-job-id"] for r in rows] == [str(first["id"]), str(second["id"])]
    report = client.get(f"/api/v1/jobs/{first['id']}/report").json()
    assert f">{report['metrics']['val_loss']['mean']:.6g}<" in html
    assert 'id="history-chart"' in html and "mean val_loss across seeds" in html
    assert f'href="/compare?a={first["id"]}&amp;b={second["id"]}&amp;metric=val_loss"' in html
    assert 'id="param-epochs"' in html  # epochs differs between the jobs: a filter
    only = client.get("/experiments/credit_risk_mlp", params={"profile": "none"}).text
    assert [r.attrs["data-job-id"] for r in table_rows(only, "history-table")] == [
        str(second["id"])
    ]
    by_param = client.get("/experiments/credit_risk_mlp", params={"param": "epochs=2"}).text
    assert [r.attrs["data-job-id"] for r in table_rows(by_param, "history-table")] == [
        str(first["id"])
    ]
    missing = client.get("/experiments/no_such_experiment")
    assert missing.status_code == 404 and "no_such_experiment" in missing.text


def test_error_pages_say_what_went_wrong_and_link_back(client: TestClient) -> None:
    unknown = client.get("/no/such/page", headers={"accept": "text/html"})
    assert unknown.status_code == 404 and 'data-testid="error-page"' in unknown.text
    assert "There is no page at /no/such/page" in unknown.text and 'href="/"' in unknown.text
    invalid = client.get("/?offset=-3", headers={"accept": "text/html", "referer": "/"})
    assert invalid.status_code == 422 and "offset" in invalid.text
    assert 'id="error-back"' in invalid.text
    # The API keeps its JSON errors.
    assert client.get("/api/v1/jobs?offset=-3").json()["errors"][0]["loc"] == ["query", "offset"]
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}


def test_an_unexpected_failure_is_a_500_page_for_people_and_json_for_the_api(
    tmp_path: Path,
) -> None:
    app = create_app(Settings(data_dir=tmp_path, allowed_hosts=["testserver"]))

    def boom() -> None:
        raise RuntimeError("disk on fire")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        page = c.get("/boom", headers={"accept": "text/html"})
        assert page.status_code == 500 and 'data-testid="error-page"' in page.text
        assert "The server failed on this request (RuntimeError)" in page.text
        assert 'href="/"' in page.text
        api = c.get("/api/v1/boom")
        assert api.status_code == 500 and "RuntimeError" in api.json()["detail"]

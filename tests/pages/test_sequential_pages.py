"""The sequential seed plan, seeds needed and the percentile form on the job page: rendered by
the server (in-process) and drawn in real headless Chromium."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from scipy import stats

from seedlab.analysis.significance import seeds_for_halfwidth
from tests.pages.support import AgentDriver, table_rows

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

# The driver's val_auc varies by about 0.012 across seeds: a half-width near 0.004 over five.
UNTIL = "val_auc.ci95_halfwidth<=0.003"


def _sequential(http: Any, driver: AgentDriver, *, max_seeds: int = 9) -> dict[str, Any]:
    response = http.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": 3}, "seeds": "3:auto",
              "until": UNTIL, "max_seeds": max_seeds, "profile": "full"},
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    for _ in range(max_seeds + 1):
        report = http.get(f"/api/v1/jobs/{job_id}/report").json()
        if report["status"] in ("succeeded", "failed", "cancelled"):
            return dict(report)
        driver.complete_next(epochs=3)
    raise AssertionError(f"job {job_id} did not end: {report['status']}")


def _values(report: dict[str, Any], metric: str) -> list[float]:
    return [r["final_metrics"][metric] for r in report["runs"] if r["status"] == "succeeded"]


def test_job_page_shows_rounds_seeds_needed_and_answers_the_percentile(
    client: TestClient, driver: AgentDriver
) -> None:
    report = _sequential(client, driver)
    seq = report["sequential"]
    assert seq["reason"] in ("target met", "max seeds reached") and len(seq["rounds"]) >= 2
    html = client.get(f"/jobs/{report['id']}").text
    rows = table_rows(html, "sequential-rounds")
    assert [int(r.cells[1]) for r in rows] == [r["seeds"] for r in seq["rounds"]]
    assert f"Stopped: {seq['reason']}" in html and 'id="sequential-chart"' in html
    found = re.search(r'id="sequential-chart"[^>]*data-figure="([^"]*)"', html)
    assert found is not None
    figure = json.loads(unescape(found[1]))
    assert figure["data"][0]["x"] == [r["seeds"] for r in seq["rounds"]]
    assert figure["data"][1]["y"] == [0.003, 0.003]
    # Seeds needed at the typed targets, the same numbers as the API's.
    values = _values(report, "val_auc")
    std = float(stats.tstd(values))
    page = client.get(f"/jobs/{report['id']}?halfwidth=0.001&difference=0.01").text
    needed = {r.attrs["data-metric"]: r for r in table_rows(page, "seeds-needed-table")}
    assert f": {seeds_for_halfwidth(std, 0.001)}" in needed["val_auc"].cells[3]
    api = client.get(f"/api/v1/jobs/{report['id']}/report?halfwidth=0.001&difference=0.01").json()
    per_job = api["seeds_needed"]["val_auc"]["difference"]["seeds"]
    assert f": {per_job}" in needed["val_auc"].cells[4]
    # The percentile form is answered by the server.
    mid = sorted(values)[len(values) // 2]
    answered = client.get(f"/jobs/{report['id']}?value={mid}&metric=val_auc").text
    expected = stats.percentileofscore(values, mid, kind="mean")
    assert f"{expected:.1f}%</strong> of the {len(values)} seeds" in answered
    wrong = client.get(f"/jobs/{report['id']}?value=abc&metric=val_auc").text
    assert 'id="percentile-error"' in wrong and "'abc' is not a number" in unescape(wrong)
    bad = client.get(f"/jobs/{report['id']}?halfwidth=-1").text
    assert "half-width must be a positive number" in bad
    # The live fragment carries the sequential section too.
    live = client.get(f"/jobs/{report['id']}/live").json()
    assert 'id="sequential-rounds"' in live["html"]["sequential"]


def test_new_job_form_has_until_and_max_seeds(client: TestClient) -> None:
    html = client.get("/jobs/new").text
    assert 'id="until"' in html and 'id="max-seeds"' in html


@pytest.mark.browser
def test_sequential_chart_and_percentile_form_in_chromium(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    # Submitted through the form: 3:auto with the rule and a cap of 9 seeds.
    page.goto("/jobs/new?experiment=credit_risk_mlp")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    page.fill("#seeds", "3:auto")
    page.fill("#until", "val_auc>0.9")
    page.click("#new-job-form button[type=submit]")
    error = page.locator('[data-field="until"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("write METRIC.ci95_halfwidth<=NUMBER")
    expect(page.locator("#until")).to_have_class(re.compile("invalid"))
    page.fill("#until", "val_auc.ci95_halfwidth<=0.003")
    page.fill("#max-seeds", "9")
    page.fill('[data-experiment="credit_risk_mlp"] input[name="epochs"]', "3")
    page.click("#new-job-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    job = api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["sequential"]["until"] == UNTIL and job["sequential"]["max_seeds"] == 9
    for _ in range(10):
        report = api.get(f"/api/v1/jobs/{job_id}/report").json()
        if report["status"] == "succeeded":
            break
        live_driver.complete_next(epochs=3)
    seq = report["sequential"]
    assert report["status"] == "succeeded" and seq["reason"] in ("target met", "max seeds reached")

    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    chart = page.locator("#sequential-chart")
    expect(chart).to_have_attribute("data-ready", "1")
    # Plotly drew one marker per finished round and the dashed target line.
    expect(chart.locator(".scatterlayer .trace").first.locator(".point")).to_have_count(
        len(seq["rounds"])
    )
    expect(chart.locator(".scatterlayer .trace")).to_have_count(2)
    expect(page.locator("#sequential-sentence")).to_contain_text(f"Stopped: {seq['reason']}")

    values = _values(report, "val_auc")
    value = sorted(values)[len(values) // 2]
    page.fill("#percentile-value", f"{value}")
    page.select_option("#percentile-metric", "val_auc")
    page.click("#percentile-button")
    answer = page.locator("#percentile-answer")
    expect(answer).to_be_visible()
    expected = stats.percentileofscore(values, value, kind="mean")
    expect(answer).to_contain_text(f"{expected:.1f}% of the {len(values)} seeds of val_auc")
    assert "value=" in page.url
    expect(page.locator("#sequential-chart")).to_have_attribute("data-ready", "1")
    page.locator("#sequential").screenshot(path=str(shots / "sequential-seeds.png"))
    page.locator("#seed-distribution").screenshot(path=str(shots / "seeds-needed.png"))

"""Seed science sections (seed lottery, probability of improvement) in real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from seedlab.analysis.runwarnings import run_warnings
from tests.pages.support import AgentDriver

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _job(
    api: httpx.Client,
    driver: AgentDriver,
    *,
    salt: str,
    warnings: list[dict[str, str]] | None = None,
    predictions: list[dict[str, Any]] | None = None,
) -> int:
    response = api.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": 4}, "seeds": "3:4x1",
              "profile": "full"},
    )
    assert response.status_code == 201, response.text
    for index in range(4):
        driver.complete_next(
            epochs=4,
            salt=salt,
            warnings=warnings,
            predictions=predictions[index] if predictions else None,
        )
    return int(response.json()["id"])


def test_lottery_and_probability_of_improvement_render(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    repeated = run_warnings(first_batches=["a", "a"], where="model.fit input batches")
    # Four seeds score four applicants; only applicant "p2" crosses 0.5 on some seeds.
    scores = [[0.9, 0.1, 0.4, 0.8], [0.8, 0.2, 0.6, 0.7], [0.85, 0.15, 0.3, 0.9],
              [0.95, 0.05, 0.7, 0.75]]
    predictions = [
        {"ids": ["p0", "p1", "p2", "p3"], "scores": row, "labels": [1, 0, 1, 1]} for row in scores
    ]
    job_a = _job(api, live_driver, salt="", warnings=repeated, predictions=predictions)
    # The salted runs end 3e-7 higher on every metric: B beats A on each of the four seeds.
    job_b = _job(api, live_driver, salt="b")
    report = api.get(f"/api/v1/jobs/{job_a}/report").json()
    curve = report["seed_lottery"]["val_auc"]["expected_best_of_k"]
    assert len(curve) == 4 and curve[-1] > curve[0]

    page.goto(f"/jobs/{job_a}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    row = page.locator('#lottery-table tr[data-metric="val_auc"]')
    expect(row).to_be_visible()
    expect(row.locator("svg.lottery-curve polyline")).to_have_count(1)
    points = row.locator("polyline").get_attribute("points") or ""
    assert len(points.split()) == 4
    expect(page.locator("#lottery-sentence")).to_contain_text("best of these seeds")
    churn = page.locator("#churn-sentence")
    expect(churn).to_contain_text("25.0% of the 4 validation examples get another decision")
    expect(page.locator("#churn-top")).to_contain_text("p2 (67% of seed pairs)")
    page.locator("#lottery-section").screenshot(path=str(shots / "seed-lottery.png"))
    warning = page.locator('#job-warnings li[data-code="repeated_epoch_order"]')
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("in 4 of 4 run(s)")
    warning.screenshot(path=str(shots / "repeated-epoch-order.png"))

    page.goto(f"/compare?a={job_a}&b={job_b}&metric=val_auc")
    expect(page.locator("#compare-page")).to_have_attribute("data-ready", "1")
    improvement = page.locator("#compare-prob-improvement")
    expect(improvement).to_have_attribute("data-conclusion", "better")
    expect(improvement).to_contain_text("P(B > A) = 1 on paired seeds")
    body = api.get("/api/v1/compare", params={"a": job_a, "b": job_b, "metric": "val_auc"}).json()
    assert body["conclusion"] == "better" and body["prob_improvement"]["value"] == 1.0
    improvement.screenshot(path=str(shots / "prob-improvement.png"))

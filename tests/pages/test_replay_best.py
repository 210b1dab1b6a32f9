"""The job page's "replay the best" form in headless Chromium against a live server."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.pages.support import AgentDriver

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly
    expect = None

pytestmark = pytest.mark.browser


def test_replay_best_button_queues_top_seeds_and_shows_reproduced(
    page: Any, api: httpx.Client, live_driver: AgentDriver
) -> None:
    created = api.post("/api/v1/jobs", json={
        "experiment": "credit_risk_mlp", "params": {"epochs": 3}, "seeds": "1:4x1",
        "profile": "seeds_only", "label": "replay source",
    })
    assert created.status_code == 201, created.text
    job = created.json()["id"]
    for _ in range(4):
        live_driver.complete_next(epochs=3)
    report = api.get(f"/api/v1/jobs/{job}/report").json()
    ranked = sorted(report["runs"], key=lambda r: -r["final_metrics"]["val_auc"])
    top = sorted(r["seed"] for r in ranked[:2])

    page.goto(f"/jobs/{job}")
    page.select_option("#replay-metric", "val_auc")
    page.fill("#replay-k", "2")
    page.click("#replay-best-button")
    page.wait_for_url(re.compile(rf"/jobs/(?!{job}$)\d+$"))
    replay_job = int(page.url.rsplit("/", 1)[1])
    replayed = api.get(f"/api/v1/jobs/{replay_job}").json()
    assert sorted(replayed["seeds"]) == top
    assert replayed["profile_name"] == "full" and replayed["label"] == f"replay of job {job}"
    for _ in range(2):
        live_driver.complete_next(epochs=3)
    page.reload()
    assert expect is not None
    rows = page.locator("#replay-check tbody tr")
    expect(rows).to_have_count(2)
    for seed in top:
        expect(page.locator(f'#replay-check tr[data-seed="{seed}"] td.reproduced')).to_have_text(
            "yes"
        )
    expect(page.locator("#replay-check p")).to_contain_text("reproduced its weights")

    # A metric the job does not have: the form shows the server's message.
    page.goto(f"/jobs/{job}")
    page.evaluate(
        "document.getElementById('replay-metric').add(new Option('f1', 'f1', true, true))"
    )
    page.click("#replay-best-button")
    expect(page.locator("#replay-error")).to_contain_text("has no succeeded run with a final 'f1'")

"""A sweep job's page (winner sentence, configurations, charts, rounds) and the new-job form's
grid, in real headless Chromium against a live server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedlab.analysis.sweep import params_label
from tests.pages.support import AgentDriver

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

GRID = {"learning_rate": [1e-6, 0.001, 0.01], "hidden_units": [16, 64]}


def auc(params: dict[str, Any], seed: int) -> float:
    """learning_rate 1e-6 learns nothing; 0.01 with 64 units is best, by a gap the seeds'
    own noise hides at first (so the race needs more than one round)."""
    luck = ((seed * 7919) % 97) / 97.0 * 0.01  # shared by every configuration on this seed
    if params["learning_rate"] < 1e-5:
        return 0.5 + luck
    own = (((seed + 3) * params["hidden_units"] * 104729) % 89) / 89.0 * 0.006
    base = 0.9 if params["learning_rate"] == 0.01 else 0.87
    return float(base + (0.004 if params["hidden_units"] == 64 else 0.0) + luck + own)


def finish_all(api: httpx.Client, driver: AgentDriver) -> int:
    """Play the agent until nothing is queued; the number of runs finished."""
    done = 0
    while True:
        response = driver.http.post(
            "/api/v1/agent/claim", json={"agent_id": driver.register()}, headers=driver.headers
        )
        if response.status_code != 200:
            return done
        a = response.json()
        driver._post(
            f"/api/v1/agent/runs/{a['run_id']}/finish",
            {
                "attempt": a["attempt"],
                "status": "succeeded",
                "seconds": 1.0,
                "final_metrics": {"val_auc": auc(a["params"], a["seed"])},
            },
        )
        done += 1


def test_sweep_page_leads_with_the_winner(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    job = api.post(
        "/api/v1/jobs",
        json={
            "kind": "sweep",
            "experiment": "credit_risk_mlp",
            "params": {"epochs": 2},
            "seeds": "42:auto",
            "sweep": {"grid": GRID, "metric": "val_auc", "max_seeds": 12},
        },
    ).json()
    assert job["run_count"] == 30
    finish_all(api, live_driver)
    report = api.get(f"/api/v1/jobs/{job['id']}/report").json()
    section = report["sweep"]
    assert report["status"] == "succeeded"

    page.goto(f"/jobs/{job['id']}")
    first_h2 = page.locator("main h2").first
    expect(first_h2).to_have_text("Sweep: which configuration wins")
    expect(page.locator("#sweep-sentence")).to_have_text(section["sentence"])
    rows = page.locator("#sweep-configs tbody tr")
    expect(rows).to_have_count(6)
    by_mean = sorted(section["configs"], key=lambda c: -c["mean"])
    for i, config in enumerate(by_mean):
        row = rows.nth(i)
        expect(row).to_have_attribute("data-config", params_label(config["params"]))
        expect(row.locator("td").nth(3)).to_have_text(f"{config['p_best']:.2f}")
    expect(rows.nth(0).locator("td").nth(6)).to_contain_text("winner")
    for config in section["configs"]:
        if config["params"]["learning_rate"] == 1e-6:
            assert config["eliminated_after"] == 1
            label = params_label(config["params"])
            expect(page.locator(f'#sweep-configs tr[data-config="{label}"]')).to_contain_text(
                "dropped after round 1"
            )
    charts = page.locator(".sweep-chart")
    expect(charts).to_have_count(2)
    for i in range(2):
        expect(charts.nth(i)).to_have_attribute("data-ready", "1")
        expect(charts.nth(i).locator(".scatterlayer .point").first).to_be_visible()
    expect(page.locator("#sweep-rounds tbody tr")).to_have_count(len(section["rounds"]))
    expect(page.locator("#sweep-rounds caption")).to_contain_text(
        f"runs {section['runs_used']} of {section['runs_full_grid']}"
    )
    page.locator("#sweep").screenshot(path=str(shots / "sweep.png"))


def test_new_job_form_builds_a_grid(page: Any, api: httpx.Client) -> None:
    page.goto("/jobs/new")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    page.select_option("#experiment", "credit_risk_mlp")
    page.fill("#sweep-grid", "learning_rate=0.001,0.01\nhidden_units=16,32")
    page.fill("#sweep-metric", "val_auc")
    page.fill("#seeds", "7:auto")
    page.fill("#max-seeds", "6")
    page.locator("#submit").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    job = api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["kind"] == "sweep" and job["run_count"] == 4 * 5
    report = api.get(f"/api/v1/jobs/{job_id}/report").json()
    assert [c["params"] for c in report["sweep"]["configs"]] == [
        {"learning_rate": 0.001, "hidden_units": 16},
        {"learning_rate": 0.001, "hidden_units": 32},
        {"learning_rate": 0.01, "hidden_units": 16},
        {"learning_rate": 0.01, "hidden_units": 32},
    ]
    assert report["sweep"]["runs_full_grid"] == 24
    expect(page.locator("#sweep-sentence")).to_contain_text("still racing")
    page.goto("/jobs/new")
    page.fill("#sweep-grid", "learning_rate")
    page.locator("#submit").click()
    expect(page.locator("#form-errors")).to_contain_text("NAME=V1,V2")

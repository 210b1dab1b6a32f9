"""The Decompose button (plan stated, then confirmed) and the decomposition section, in
real headless Chromium."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedlab.jobs.decompose import sentence
from tests.pages.support import AgentDriver, fake_fingerprint

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

PLAN = "decompose credit_risk_mlp: 4 groups \u00d7 3 runs + 3 all-vary = 15 runs."


def _spread(value: int) -> float:
    return ((value * 7919) % 97) / 97.0


def _complete(driver: AgentDriver) -> dict[str, Any]:
    """Finish the next run with a val_auc moved by each of its seeds (kernels: never)."""
    a = driver.claim()
    run_id, attempt, seed = a["run_id"], a["attempt"], a["seed"]
    order = seed if a.get("order_seed") is None else a["order_seed"]
    split = seed if a.get("split_seed") is None else a["split_seed"]
    fingerprint = fake_fingerprint()
    driver._post(
        f"/api/v1/agent/runs/{run_id}/started",
        {
            "attempt": attempt,
            "applied_profile": {"seed": seed, "order_seed": order, "split_seed": split},
            "fingerprint_hash": hashlib.sha256(repr(fingerprint).encode()).hexdigest(),
            "fingerprint": fingerprint,
            "isolation": "fork",
        },
    )
    auc = 0.9 + 0.012 * _spread(seed) + 0.009 * _spread(order) + 0.004 * _spread(split)
    driver._post(
        f"/api/v1/agent/runs/{run_id}/finish",
        {
            "attempt": attempt,
            "status": "succeeded",
            "seconds": 1.0,
            "final_metrics": {"val_auc": auc},
            "weights_checksum": hashlib.sha256(f"{seed}:{order}:{split}".encode()).hexdigest(),
        },
    )
    return a


def test_decompose_button_states_the_plan_and_the_section_shows_shares(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    job = api.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": 4}, "seeds": "42:3x1"},
    ).json()
    for _ in range(3):
        live_driver.complete_next(epochs=4)

    page.goto(f"/jobs/{job['id']}")
    button = page.locator("#decompose-button")
    expect(button).to_contain_text("3 seeds per source")
    button.click()
    expect(page.locator("#decompose-plan")).to_have_text(PLAN)
    expect(page.locator("#decompose-submit")).to_have_text("Submit 15 runs")
    page.locator("#decompose-cancel").click()
    expect(page.locator("#decompose-confirm")).to_be_hidden()
    assert api.get("/api/v1/jobs").json()["total"] == 1  # nothing submitted without confirming
    button.click()
    page.locator("#decompose-submit").click()
    page.wait_for_url(f"**/jobs/{job['id'] + 1}")

    decompose = api.get(f"/api/v1/jobs/{job['id'] + 1}").json()
    assert decompose["kind"] == "decompose" and decompose["run_count"] == 15
    assert decompose["params"] == job["params"] and decompose["seeds"] == [42, 43, 44]
    expect(page.locator("#decomposition-empty")).to_be_visible()
    assignments = [_complete(live_driver) for _ in range(15)]
    assert sorted({(a["seed"], a["order_seed"], a["split_seed"]) for a in assignments}) == sorted(
        {(42, 42, 42), (43, 42, 42), (44, 42, 42), (42, 43, 42), (42, 44, 42),
         (42, 42, 43), (42, 42, 44), (43, 43, 43), (44, 44, 44)}
    )  # fmt: skip

    report = api.get(f"/api/v1/jobs/{decompose['id']}/report").json()
    section = report["decomposition"]["val_auc"]
    assert list(section["sources"]) == ["init", "order", "split", "kernels"]
    assert section["sources"]["kernels"]["share"] == 0.0
    page.reload()
    seeds = page.locator("#runs-table .run-seeds")
    expect(seeds).to_have_count(15)
    expect(seeds.nth(4)).to_have_text("42 · 43 · 42")  # the order group's second run
    table = page.locator('.decomposition[data-metric="val_auc"]')
    expect(table.locator("tbody tr")).to_have_count(4)
    for name, row in section["sources"].items():
        cells = table.locator(f'tr[data-source="{name}"] td')
        expect(cells.nth(0)).to_have_text(f"{100 * row['share']:.0f}%")
        lo, hi = row["ci95"]
        expect(cells.nth(1)).to_have_text(f"[{100 * lo:.0f}, {100 * hi:.0f}]")
        expect(cells.nth(2).locator("line.share-whisker")).to_have_count(3)
    expect(table.locator(".decomposition-sentence")).to_have_text(sentence("val_auc", section))
    expect(table.locator(".decomposition-sentence")).to_contain_text("data order")
    page.locator("#decomposition").screenshot(path=str(shots / "decomposition.png"))

"""Pages in real headless Chromium against a real server process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem
from tests.pages.support import AgentDriver, wait_until

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

JOB_URL = re.compile(r"/jobs/(\d+)$")


def _jobs(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/v1/jobs").json()["items"]
    return items


def _submit(api: httpx.Client, seeds: str, epochs: int = 8) -> int:
    response = api.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": epochs}, "seeds": seeds,
              "profile": "full", "label": "browser test"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _job_id(page: Any) -> int:
    match = JOB_URL.search(page.url)
    assert match, page.url
    return int(match.group(1))


def _open_form(page: Any, experiment: str) -> None:
    page.goto("/jobs/new")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    page.select_option("#experiment", experiment)


def test_new_job_form_submits_and_shows_errors(
    page: Any, api: httpx.Client, shots: Path
) -> None:
    jobs_before = len(_jobs(api))
    page.goto("/jobs/new")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    expect(page.locator('fieldset[data-experiment="credit_risk_mlp"]')).to_be_visible()
    page.screenshot(path=str(shots / "new-job.png"), full_page=True)

    # Switching the experiment swaps the generated parameter fields.
    page.select_option("#experiment", "seed_card_mlp")
    expect(page.locator('fieldset[data-experiment="seed_card_mlp"]')).to_be_visible()
    expect(page.locator('fieldset[data-experiment="credit_risk_mlp"]')).to_be_hidden()
    expect(page.locator("#param-seed_card_mlp-units")).to_have_value("64")

    # An invalid parameter: the server's error names the field; the page and its values stay.
    page.fill("#param-seed_card_mlp-epochs", "-1")
    page.fill("#seeds", "7:2x2")
    page.click("#submit")
    errors = page.locator("#form-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("epochs")
    expect(errors).to_contain_text("greater than or equal to 1")
    field_error = page.locator(
        'fieldset[data-experiment="seed_card_mlp"] .field[data-field="epochs"] .field-error'
    )
    expect(field_error).to_contain_text("greater than or equal to 1")
    expect(page.locator("#param-seed_card_mlp-epochs")).to_have_class(re.compile("invalid"))
    assert page.url.endswith("/jobs/new")
    expect(page.locator("#param-seed_card_mlp-epochs")).to_have_value("-1")
    expect(page.locator("#seeds")).to_have_value("7:2x2")
    assert len(_jobs(api)) == jobs_before

    # A bad seed plan is explained too.
    page.fill("#param-seed_card_mlp-epochs", "3")
    page.fill("#seeds", "lots")
    page.click("#submit")
    expect(errors).to_contain_text("cannot read seed plan")
    assert page.url.endswith("/jobs/new")

    # Fix everything and submit: numbers are sent as numbers, the preset by name.
    page.fill("#seeds", "7:2x2")
    page.fill("#param-seed_card_mlp-dropout", "0.25")
    page.select_option("#profile", "seeds_only")
    page.fill("#label", "from the browser")
    page.click("#submit")
    page.wait_for_url(JOB_URL)
    job_id = _job_id(page)
    expect(page.locator("#runs-table tbody tr")).to_have_count(4)
    expect(page.locator("#runs-table tbody tr[data-status=queued]")).to_have_count(4)
    expect(page.locator("#profile-name")).to_have_text("seeds_only")
    job = api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["params"]["epochs"] == 3 and isinstance(job["params"]["epochs"], int)
    assert job["params"]["dropout"] == 0.25 and job["params"]["units"] == 64
    assert job["seeds"] == [7, 8] and job["repeats"] == 2
    assert job["label"] == "from the browser"


def test_new_job_custom_toggles_override_the_preset(page: Any, api: httpx.Client) -> None:
    _open_form(page, "credit_risk_mlp")
    expect(page.locator("#toggles")).to_be_hidden()
    page.check("#customise")
    expect(page.locator("#toggles")).to_be_visible()
    expect(page.locator("#toggle-op_determinism")).to_be_checked()  # prefilled from "full"
    page.uncheck("#toggle-op_determinism")
    page.check("#toggle-onednn_off")
    page.select_option("#param-credit_risk_mlp-dataset", "synthetic_credit")
    page.fill("#seeds", "1,5x2")
    # FastAPI's own 422 list (here: label too long) is shown field by field as well.
    page.eval_on_selector("#label", "el => { el.value = 'x'.repeat(201); }")
    page.click("#submit")
    expect(page.locator("#form-errors")).to_contain_text("label: String should have at most 200")
    expect(page.locator("#label")).to_have_class(re.compile("invalid"))
    page.fill("#label", "custom")
    page.click("#submit")
    page.wait_for_url(JOB_URL)
    job = api.get(f"/api/v1/jobs/{_job_id(page)}").json()
    assert job["profile_name"] == "full+custom"
    assert job["profile"]["op_determinism"] is False and job["profile"]["onednn_off"] is True
    assert job["profile"]["hash_seed"] is True
    assert job["params"]["dataset"] == "synthetic_credit" and job["seeds"] == [1, 5]


def test_new_job_trace_box_asks_for_a_traced_profile(page: Any, api: httpx.Client) -> None:
    _open_form(page, "seed_card_mlp")
    page.select_option("#profile", "seeds_only")
    page.check("#trace")
    page.fill("#seeds", "3:1x2")
    page.click("#submit")
    page.wait_for_url(JOB_URL)
    job = api.get(f"/api/v1/jobs/{_job_id(page)}").json()
    assert job["profile_name"] == "seeds_only+trace"
    assert job["profile"]["trace"] is True and job["profile"]["op_determinism"] is False


def test_job_page_with_finished_runs(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    job_id = _submit(api, "42:4x2")
    for _ in range(8):
        live_driver.complete_next(epochs=8)
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")

    expect(page.locator("#verdict .verdict-word")).to_have_text("bitwise")
    expect(page.locator("#verdict")).to_contain_text("bit-for-bit identical")
    expect(page.locator("#evidence-table tbody tr")).to_have_count(4)
    for metric in ("loss", "val_loss", "val_auc"):
        expect(page.locator(f'#spread-table tr[data-metric="{metric}"]')).to_have_count(1)
    expect(page.locator("#runs-table tbody tr[data-status=succeeded]")).to_have_count(8)

    # The chart: 8 run curves plus the 3 band traces (upper, lower, mean).
    expect(page.locator("#overlay.js-plotly-plot")).to_have_count(1)
    assert page.evaluate("document.getElementById('overlay').data.length") == 11
    expect(page.locator("#metric-select")).to_have_value("val_auc")
    visible_band = (
        "document.getElementById('overlay').data"
        ".filter(t => t.meta === 'band' && t.visible !== false).length"
    )
    assert page.evaluate(visible_band) == 3
    page.screenshot(path=str(shots / "job-page.png"), full_page=True)

    page.uncheck("#band-toggle")
    wait_until(page, f"{visible_band} === 0")
    assert page.evaluate("document.getElementById('overlay').data.length") == 11
    page.check("#band-toggle")
    wait_until(page, f"{visible_band} === 3")

    # Another metric: the chart is refetched for it.
    page.select_option("#metric-select", "loss")
    wait_until(page, "document.getElementById('overlay').layout.yaxis.title.text === 'loss'")

    # A run link opens the run page with the profile applied inside the run process.
    first_run = page.locator("#runs-table tbody tr").first
    run_id = first_run.get_attribute("data-run-id")
    first_run.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))
    expect(page.locator("#run-status")).to_have_attribute("data-status", "succeeded")
    profile = page.locator("#applied-profile")
    expect(profile).to_contain_text("op_determinism")
    expect(profile).to_contain_text("intra_op_threads")
    expect(page.locator("#fingerprint")).to_contain_text("Test CPU 9000")
    expect(page.locator("#run-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#run-curves .js-plotly-plot")).to_have_count(3)
    page.screenshot(path=str(shots / "run-page.png"), full_page=True)


def test_job_page_updates_live(page: Any, api: httpx.Client, live_driver: AgentDriver) -> None:
    job_id = _submit(api, "42:1x2", epochs=4)
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#overlay-empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    first = live_driver.complete_next(epochs=4)["run_id"]
    expect(page.locator(f'#runs-table tr[data-run-id="{first}"]')).to_have_attribute(
        "data-status", "succeeded", timeout=10_000
    )
    expect(page.locator("#job-status-badge")).to_have_attribute("data-status", "running")
    wait_until(page, "(document.getElementById('overlay').data || []).length === 1")

    live_driver.complete_next(epochs=4)
    expect(page.locator("#verdict .verdict-word")).to_have_text("bitwise", timeout=10_000)
    expect(page.locator("#job-page")).to_have_attribute("data-terminal", "true")
    expect(page.locator("#cancel-job")).to_have_count(0)
    wait_until(page, "document.getElementById('overlay').data.length === 2")
    assert page.evaluate("window.__sameDocument") is True


def test_cancel_button_cancels_queued_runs(page: Any, api: httpx.Client) -> None:
    job_id = _submit(api, "42:2x1")
    page.goto(f"/jobs/{job_id}")
    page.click("#cancel-job")
    expect(page.locator("#job-status-badge")).to_have_attribute(
        "data-status", "cancelled", timeout=10_000
    )
    expect(page.locator("#runs-table tbody tr[data-status=cancelled]")).to_have_count(2)
    assert api.get(f"/api/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_unknown_job_is_a_404_page(page: Any, live: LiveSystem) -> None:
    response = page.goto("/jobs/424242")
    assert response is not None and response.status == 404
    expect(page.locator("[data-testid=not-found]")).to_contain_text("424242 does not exist")


def test_run_page_updates_live(page: Any, api: httpx.Client, live_driver: AgentDriver) -> None:
    job_id = _submit(api, "42:1x1", epochs=3)
    run_id = api.get(f"/api/v1/jobs/{job_id}/runs").json()[0]["id"]
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#run-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "queued")
    expect(page.locator("#run-curves-empty")).to_be_visible()
    assert live_driver.complete_next(epochs=3)["run_id"] == run_id
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=10_000)
    expect(page.locator("#applied-profile")).to_contain_text("op_determinism")
    expect(page.locator("#run-curves .js-plotly-plot")).to_have_count(3)
    expect(page.locator("#run-page")).to_have_attribute("data-terminal", "true")


def test_diagnosis_pages_open_from_the_job_page(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    """Run-pair (environment diff and divergence timeline), compare and audit, all linked."""
    job_a = _submit(api, "7:2x2", epochs=4)
    runs = api.get(f"/api/v1/jobs/{job_a}/report").json()["runs"]
    for run in sorted(runs, key=lambda r: r["id"]):  # runs are claimed oldest first
        salt = "kernel order" if run["repeat"] == 1 else ""
        assert live_driver.complete_next(epochs=4, traced=True, salt=salt)["run_id"] == run["id"]
    page.goto(f"/jobs/{job_a}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#verdict .verdict-word")).to_have_text("nondeterministic")
    expect(page.locator("#evidence-table .divergence-cell").first).to_have_text(
        "epoch 3, step 1: same inputs, weights differ (dense_1)"
    )

    # The run-pair page: environment diff, then the first divergence and its timeline.
    page.click("#divergence-link")
    page.wait_for_url(re.compile(r"/runs/\d+/diff/\d+#divergence$"))
    expect(page.locator("#diff-identical")).to_be_visible()
    summary = page.locator("#divergence-summary")
    expect(summary).to_have_attribute("data-cause", "numeric")
    expect(summary).to_contain_text("First differ at epoch 3, step 1")
    expect(page.locator("#diff-page")).to_have_attribute("data-ready", "1")
    rows = "document.getElementById('divergence-timeline').data[0].y"
    assert page.evaluate(rows) == ["input batch", "dense", "dense_1"]
    page.screenshot(path=str(shots / "divergence-page.png"), full_page=True)

    # Compare: from the job page's Diagnose bar to a significance page with its chart.
    job_b = _submit(api, "7:2x1", epochs=4)
    for _ in range(2):
        live_driver.complete_next(epochs=4)
    page.goto(f"/jobs/{job_a}")
    page.click("#compare-link")
    page.wait_for_url(re.compile(rf"/compare\?a={job_a}"))
    page.fill("#b", str(job_b))
    page.fill("#metric", "val_auc")
    page.locator("#compare-form button[type=submit]").click()
    expect(page.locator("#compare-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#compare-sentence")).not_to_be_empty()
    expect(page.locator("#compare-chart.js-plotly-plot")).to_have_count(1)

    # Audit: the button on the job page submits an audit job and opens its page.
    page.goto(f"/jobs/{job_a}")
    page.click("#audit-button")
    page.wait_for_url(re.compile(rf"/jobs/(?!{job_a}$)\d+$"))
    audit_job = _job_id(page)
    assert audit_job not in (job_a, job_b)
    expect(page.locator("#audit-link")).to_be_visible()
    report = api.get(f"/api/v1/jobs/{audit_job}/report").json()
    assert report["kind"] == "audit" and len(report["runs"]) == 18
    # Baseline pair identical; of the variants, only the one without python_seed differs.
    for run in sorted(report["runs"], key=lambda r: r["id"]):
        differs = run["variant"] == "without:python_seed" and run["repeat"] == 1
        claimed = live_driver.complete_next(epochs=4, traced=True, salt="x" if differs else "")
        assert claimed["run_id"] == run["id"]
    page.reload()
    expect(page.locator("#audit-conclusion")).to_contain_text("relies on: python_seed")
    row = page.locator('#audit-table tr[data-toggle="python_seed"]')
    expect(row).to_have_attribute("data-breaks", "True")
    expect(row.locator(".divergence-link")).to_have_text(
        "epoch 3, step 1: same inputs, weights differ (dense_1)"
    )
    row.locator(".divergence-link").click()
    page.wait_for_url(re.compile(r"/runs/\d+/diff/\d+#divergence$"))
    expect(page.locator("#diff-page")).to_have_attribute("data-ready", "1")

"""Issue 14's walk in real Chromium: clone a finished job, watch it run, read its verdict, open the
strip plot, visit the experiment, filter the jobs list; axe-core finds nothing on every page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pages.support import AgentDriver, wait_until

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

JOB_URL = re.compile(r"/jobs/(\d+)$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def axe_violations(page: Any) -> list[str]:
    """axe-core (bundled by axe-playwright-python, nothing fetched) run in the page."""
    from axe_playwright_python.sync_playwright import Axe

    # Plotly's own toasts ("Preparing image…") are appended to <body> for a few seconds after a
    # download; they are the library's, transient, and not our page's content.
    results = Axe().run(page, context={"exclude": [[".plotly-notifier"]]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(f"{node['target']} {node['html'][:100]}" for node in v["nodes"][:3])
        for v in results.response["violations"]
    ]


def check_accessible(page: Any, checked: list[str]) -> None:
    """No axe violation on the page as it stands; remembers which pages were checked."""
    found = axe_violations(page)
    assert not found, f"{page.url}: {found}"
    checked.append(page.url)


def _submit(api: httpx.Client, seeds: str, label: str, epochs: int = 4) -> int:
    response = api.post(
        "/api/v1/jobs",
        json={
            "experiment": "credit_risk_mlp",
            "params": {"epochs": epochs},
            "seeds": seeds,
            "profile": "full",
            "label": label,
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_walk_clone_watch_verdict_strip_experiment_filter(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    checked: list[str] = []
    # An existing finished job: three seeds, two repeats each, all agreeing.
    original = _submit(api, "42:3x2", label="walk baseline")
    for _ in range(6):
        live_driver.complete_next(epochs=4)

    # The job page reads top-down: the verdict line first, its evidence collapsed.
    page.goto(f"/jobs/{original}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    expect(page.locator("#verdict-line")).to_contain_text("Reproducible:")
    evidence = page.locator("details#evidence")
    expect(evidence).not_to_have_attribute("open", "")
    expect(page.locator("#evidence-table")).to_be_hidden()
    page.locator("details#evidence > summary").focus()
    page.keyboard.press("Enter")  # keyboard toggles it open
    expect(page.locator("#evidence-table tbody tr")).to_have_count(3)

    page.screenshot(path=str(shots / "job-verdict-first.png"), full_page=False)

    # The strip plot: a panel per final metric, every seed a point naming its run.
    strip = page.locator("#strip-chart")
    expect(strip).to_have_attribute("data-ready", "1")
    report = api.get(f"/api/v1/jobs/{original}/report").json()
    boxes = page.evaluate(
        "document.getElementById('strip-chart').data.filter(t => t.type === 'box').length"
    )
    assert boxes == len(report["metrics"])
    strip.scroll_into_view_if_needed()
    box = page.locator("#strip-chart g.trace.boxes path.point").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator("#strip-chart .hovertext").first
    expect(hover).to_contain_text(re.compile(r"seed \d+ · run \d+"))
    named = re.search(r"seed (\d+) · run (\d+)", hover.text_content() or "")
    assert named, "hovering a point names its run"
    first_runs = {(r["seed"], r["id"]) for r in report["runs"] if r["repeat"] == 0}
    assert (int(named.group(1)), int(named.group(2))) in first_runs
    page.screenshot(path=str(shots / "job-verdict-and-strip.png"), full_page=False)

    # "Download plot as a PNG" works offline: Plotly renders the image in the page.
    strip.hover()
    with page.expect_download() as download_info:
        strip.locator('.modebar-btn[data-title^="Download plot"]').click()
    download = download_info.value
    assert download.suggested_filename == f"job-{original}-final-metrics.png"
    assert Path(download.path()).read_bytes()[:8] == PNG_MAGIC
    check_accessible(page, checked)

    # Clone: the form comes pre-filled from the job; change the seeds and label, submit by key.
    page.click("#clone-link")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    expect(page.locator("#seeds")).to_have_value("42:3x2")
    expect(page.locator("#label")).to_have_value("walk baseline")
    expect(page.locator("#param-credit_risk_mlp-epochs")).to_have_value("4")
    check_accessible(page, checked)
    page.fill("#seeds", "42:1x2")
    page.fill("#label", "walk clone")
    page.locator("#label").press("Enter")
    page.wait_for_url(JOB_URL)
    clone = int(JOB_URL.search(page.url).group(1))  # type: ignore[union-attr]
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    cloned = api.get(f"/api/v1/jobs/{clone}").json()
    assert cloned["params"]["epochs"] == 4 and cloned["seed_plan"] == "42x2"
    assert cloned["label"] == "walk clone" and cloned["profile_name"] == "full"

    # Watch it run: the progress bar fills and the curves grow while the page stays open.
    page.evaluate("window.__sameDocument = true")

    def halfway(assignment: dict[str, Any]) -> None:
        row = page.locator(f'#runs-table tr[data-run-id="{assignment["run_id"]}"]')
        expect(row.locator("progress")).to_have_attribute("value", "2", timeout=10_000)
        expect(row.locator("progress")).to_have_attribute("max", "4")
        wait_until(
            page, "(document.getElementById('overlay').data || []).some(t => t.x.length === 2)"
        )
        page.screenshot(path=str(shots / "job-running.png"), full_page=True)

    live_driver.complete_next(epochs=4, midway=halfway)
    wait_until(
        page, "(document.getElementById('overlay').data || []).some(t => t.x.length === 4)"
    )
    live_driver.complete_next(epochs=4)
    expect(page.locator("#job-page")).to_have_attribute("data-terminal", "true", timeout=10_000)
    expect(page.locator("#verdict .verdict-word")).to_have_text("bitwise")
    assert page.evaluate("window.__sameDocument") is True

    # A finished job stops polling.
    polls: list[str] = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/live" in request.url else None
    )
    page.wait_for_timeout(3_500)  # two poll intervals
    assert polls == []

    # The label is edited in place.
    page.fill("#label-input", "walk clone, checked")
    page.locator("#label-save").press("Enter")
    expect(page.locator("#label-status")).to_have_text("Saved.")
    expect(page.locator("#job-label-heading")).to_contain_text("walk clone, checked")
    assert api.get(f"/api/v1/jobs/{clone}").json()["label"] == "walk clone, checked"
    check_accessible(page, checked)

    # The experiment page: both jobs over time, with verdicts and a compare link.
    page.click("#experiment-link")
    page.wait_for_url(re.compile(r"/experiments/credit_risk_mlp$"))
    expect(page.locator("#experiment-page")).to_have_attribute("data-ready", "1")
    rows = page.locator("#history-table tbody tr")
    assert [rows.nth(i).get_attribute("data-job-id") for i in range(rows.count())][-2:] == [
        str(original),
        str(clone),
    ]
    expect(page.locator("#history-chart.js-plotly-plot")).to_have_count(1)
    page.screenshot(path=str(shots / "experiment-page.png"), full_page=True)
    check_accessible(page, checked)
    page.click("#compare-submit")
    page.wait_for_url(re.compile(r"/compare\?"))
    check_accessible(page, checked)

    # The jobs list, filtered from the keyboard: verdict and label text.
    page.goto("/")
    page.select_option("#filter-verdict", "bitwise")
    page.fill("#filter-q", "walk")
    page.locator("#filter-q").press("Enter")
    page.wait_for_url(re.compile(r"verdict=bitwise"))
    ids = page.locator("#jobs-table tbody tr").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.jobId))"
    )
    assert ids == [clone, original]
    expect(page.locator("#job-count")).to_contain_text("2 jobs match these filters")
    page.screenshot(path=str(shots / "jobs-filtered.png"), full_page=False)
    check_accessible(page, checked)

    # The remaining pages: the run page, a run pair, an error page, the form, the data sets.
    run_id = report["runs"][0]["id"]
    for url in (
        f"/runs/{run_id}",
        f"/runs/{report['runs'][0]['id']}/diff/{report['runs'][3]['id']}",
        "/no/such/page",
        "/jobs/new",
        "/datasets",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
        check_accessible(page, checked)
    assert len(checked) == 11  # jobs list, form, two job pages, experiment, compare, 5 more

"""In real Chromium: upload a CSV, submit tabular_csv on it, read the verdict (real agent, TF)."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.tf]

CHURN = Path(__file__).resolve().parents[2] / "examples" / "csv_walkthrough" / "churn.csv"
JOB_URL = re.compile(r"/jobs/(\d+)$")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """A real server and one real agent (this module's runs train real models)."""
    system = LiveSystem(tmp_path_factory.mktemp("datasets-browser"))
    system.start_server()
    system.start_agent("browser")
    yield system
    system.stop()


def test_upload_csv_submit_tabular_csv_and_read_the_verdict(
    page: Any, api: httpx.Client, live: LiveSystem, tmp_path: Path, shots: Path
) -> None:
    upload = tmp_path / "my churn.csv"
    shutil.copy(CHURN, upload)
    sha = hashlib.sha256(CHURN.read_bytes()).hexdigest()

    page.goto("/datasets")
    expect(page.locator("#datasets-page")).to_have_attribute("data-ready", "1")
    # A malformed file first: the server's sentence shows on the page, nothing is stored.
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n3\n")
    page.set_input_files("#dataset-file", str(bad))
    page.click("#dataset-submit")
    expect(page.locator("#dataset-errors")).to_contain_text("line 3: 1 values")
    assert api.get("/api/v1/datasets").json() == []

    page.set_input_files("#dataset-file", str(upload))
    page.click("#dataset-submit")
    row = page.locator('tr[data-dataset="my-churn"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-sha256", sha)
    expect(row.locator('li[data-column="tenure_months"]')).to_contain_text("missing")
    page.screenshot(path=str(shots / "datasets-page.png"), full_page=True)

    page.click("text=New job")
    expect(page.locator("#new-job")).to_have_attribute("data-ready", "1")
    page.select_option("#experiment", "tabular_csv")
    params = page.locator('fieldset[data-experiment="tabular_csv"]')
    expect(params.locator("#param-tabular_csv-dataset")).to_have_value(sha)
    # The target offers the binary columns first; pick the label column.
    expect(params.locator("#param-tabular_csv-target option").first).to_have_text(
        "churned (string, binary)"
    )
    params.locator("#param-tabular_csv-target").select_option("churned")
    features = params.locator("#param-tabular_csv-features")
    expect(features.locator('option[value="churned"]')).to_be_disabled()  # not both
    expect(features.locator('option[value="plan"]')).to_be_enabled()
    params.locator("#param-tabular_csv-features").select_option(
        ["tenure_months", "monthly_charges", "plan"]
    )
    params.locator("#param-tabular_csv-epochs").fill("2")
    page.fill("#seeds", "1:2x2")
    params.screenshot(path=str(shots / "new-job-tabular-csv.png"))
    page.click("#submit")
    page.wait_for_url(JOB_URL)

    # Four real runs on one agent; the page updates itself until the verdict is in.
    expect(page.locator("#verdict .verdict-word")).to_have_text("bitwise", timeout=240_000)
    job_id = int(JOB_URL.search(page.url).group(1))  # type: ignore[union-attr]
    job = api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["experiment"] == "tabular_csv" and job["params"]["dataset"] == sha
    assert job["params"]["target"] == "churned"
    assert job["params"]["features"] == ["tenure_months", "monthly_charges", "plan"]
    report = api.get(f"/api/v1/jobs/{job_id}/report").json()
    assert report["verdict"] == "bitwise" and report["metrics"]["val_auc"]["n"] == 2
    expect(page.locator("#spread-table")).to_contain_text("val_auc")

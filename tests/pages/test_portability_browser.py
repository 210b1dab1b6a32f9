"""Portability warnings on the job and run pages, in real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from seedlab.analysis.portability import (
    DataStage,
    FitFacts,
    GraphOp,
    LayerFact,
    fit_warnings,
    merge,
    onednn_warnings,
)
from tests.pages.support import AgentDriver

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips or fails loudly before expect is needed
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _portability() -> list[dict[str, str]]:
    """What the run process sends for a model with a nearest resize fed by an unordered map."""
    facts = FitFacts(
        layers=(LayerFact("conv", "Conv2D"), LayerFact("upscale", "Resizing")),
        ops=(
            GraphOp(
                "ResizeNearestNeighborGrad",
                "__inference_one_step_on_data_9/gradient_tape/probe_1/upscale_1/resize/"
                "ResizeNearestNeighborGrad",
            ),
        ),
        data_stages=(
            DataStage("tensorSlice", "_TensorSliceDataset"),
            DataStage("map", "_ParallelMapDataset", deterministic="false"),
            DataStage("batch", "_BatchDataset"),
        ),
        op_determinism=True,
    )
    return merge(fit_warnings(facts), onednn_warnings("on (default)"))


def test_portability_warnings_show_on_the_job_and_run_pages(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    found = _portability()
    assert [w["code"] for w in found] == [
        "no_deterministic_gpu_kernel", "nondeterministic_data_stage", "onednn_enabled"
    ]
    response = api.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": 2}, "seeds": "11:3x1",
              "profile": "full"},
    )
    assert response.status_code == 201, response.text
    job = int(response.json()["id"])
    runs = [live_driver.complete_next(epochs=2, warnings=found) for _ in range(3)]
    report = api.get(f"/api/v1/jobs/{job}/report").json()
    # One line per (code, where) for the job, naming how many runs said it.
    assert [w["code"] for w in report["warnings"]] == sorted(w["code"] for w in found)
    assert all(" in 3 of 3 run(s)" in w["where"] for w in report["warnings"])

    page.goto(f"/jobs/{job}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    listed = page.locator("#job-warnings")
    expect(listed.locator("li")).to_have_count(3)
    kernel = listed.locator('li[data-code="no_deterministic_gpu_kernel"]')
    expect(kernel).to_be_visible()
    expect(kernel).to_contain_text(
        "backprop of layer upscale (Resizing): op ResizeNearestNeighborGrad in 3 of 3 run(s)"
    )
    expect(kernel).to_contain_text("What to do:")
    stage = listed.locator('li[data-code="nondeterministic_data_stage"]')
    expect(stage).to_contain_text("tf.data stage 2: map() (deterministic=False)")
    expect(listed.locator('li[data-code="onednn_enabled"]')).to_contain_text("onednn_off")
    listed.screenshot(path=str(shots / "portability-warnings.png"))

    page.goto(f"/runs/{runs[0]['run_id']}")
    own = page.locator("#run-warnings")
    expect(own.locator("li")).to_have_count(3)
    expect(own.locator('li[data-code="no_deterministic_gpu_kernel"]')).to_contain_text(
        "UnimplementedError"
    )

"""Portability warnings on the job and run pages, in real headless Chromium."""

from __future__ import annotations

import re
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
    # One line per code; the machine's oneDNN fact sits in the environment line instead.
    listed = page.locator("#job-warnings")
    expect(listed.locator("li")).to_have_count(2)
    kernel = listed.locator('li[data-code="no_deterministic_gpu_kernel"]')
    expect(kernel).to_be_visible()
    expect(kernel.locator("summary")).to_contain_text("in 3 of 3 run(s)")
    expect(kernel.locator("summary")).to_contain_text(
        "backprop of layer upscale (Resizing): op ResizeNearestNeighborGrad"
    )
    # The explanation is one click away.
    expect(kernel.get_by_text("What to do:")).to_be_hidden()
    kernel.locator("summary").click()
    expect(kernel.get_by_text("What to do:")).to_be_visible()
    stage = listed.locator('li[data-code="nondeterministic_data_stage"]')
    expect(stage).to_contain_text("tf.data stage 2: map() (deterministic=False)")
    environment = page.locator("#job-environment")
    expect(environment).to_contain_text("TensorFlow oneDNN custom ops: on (default)")
    expect(environment.locator('[data-code="onednn_enabled"]')).to_contain_text("onednn_off")
    listed.screenshot(path=str(shots / "portability-warnings.png"))

    page.goto(f"/runs/{runs[0]['run_id']}")
    own = page.locator("#run-warnings")
    expect(own.locator("li")).to_have_count(3)
    expect(own.locator('li[data-code="no_deterministic_gpu_kernel"]')).to_contain_text(
        "UnimplementedError"
    )


def _lookup_model_warnings() -> list[dict[str, str]]:
    """A heart-disease style Keras model: five lookup layers counting with DenseBincount."""
    names = ["sex", "cp", "fbs", "restecg", "thal"]
    layers = tuple(
        LayerFact(f"{n}_lookup", "StringLookup" if n == "thal" else "IntegerLookup") for n in names
    )
    ops = tuple(
        GraphOp("DenseBincount", f"__inference_one_step_on_data_9/model/{n}_lookup/DenseBincount")
        for n in names
    )
    facts = FitFacts(layers=layers, ops=ops, data_stages=(), op_determinism=True)
    return merge(fit_warnings(facts), onednn_warnings("on (default)"))


def test_a_lookup_model_gets_one_line_per_code_and_the_spread_in_the_first_screen(
    page: Any, api: httpx.Client, live_driver: AgentDriver, shots: Path
) -> None:
    found = _lookup_model_warnings()
    kernel_warnings = [w for w in found if w["code"] == "no_deterministic_gpu_kernel"]
    assert len(kernel_warnings) == 5
    # The advice fits the layer: its output_mode, or the layer moved into tf.data.
    assert all("output_mode='int'" in w["message"] for w in kernel_warnings)
    assert not any("tf.one_hot(...) and tf.reduce_sum" in w["message"] for w in kernel_warnings)
    response = api.post(
        "/api/v1/jobs",
        json={"experiment": "credit_risk_mlp", "params": {"epochs": 2}, "seeds": "21:5x1",
              "profile": "full"},
    )
    assert response.status_code == 201, response.text
    job = int(response.json()["id"])
    for _ in range(5):
        live_driver.complete_next(epochs=2, warnings=found)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/jobs/{job}")
    expect(page.locator("#job-page")).to_have_attribute("data-ready", "1")
    listed = page.locator("#job-warnings li")
    expect(listed).to_have_count(1)
    expect(listed.first.locator("summary")).to_contain_text("in 5 of 5 run(s): 5 place(s)")
    expect(page.locator("#job-environment")).to_contain_text("oneDNN")
    # The toggles say what the runs applied: PyTorch's and Keras' own never ran in a catalog run.
    expect(page.locator("#job-toggles")).to_contain_text("✓ tf_data_seed")
    expect(page.locator("#job-toggles")).not_to_contain_text("✓ torch_seed")
    expect(page.locator("#toggles-not-applied summary")).to_have_text("6 not applied")
    page.screenshot(path=str(shots / "job-page-first-screen.png"))
    # The spread table's first row is inside the first 900 px, and its CI method is named.
    row = page.locator("#spread-table tbody tr").first
    expect(row).to_be_visible()
    box = row.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900, box
    expect(page.locator("#ci-method")).to_contain_text("Hall's skewness-corrected t")
    # "Replay the best" ranks by the main validation metric; the diagnose buttons are buttons.
    expect(page.locator("#replay-metric")).to_have_value("val_auc")
    for button in ("#decompose-button", "#audit-button", "#replay-best-button"):
        expect(page.locator(button)).to_have_class(re.compile(r"\bbutton\b"))

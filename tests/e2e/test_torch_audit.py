"""The randomness-source audit and portability warnings for PyTorch command scripts, end to end:
a real server and agent started in tests/torch_project (CPU, scripts that never import seedlab).

Each leak script has one known leak, and the audit names its toggle: weights initialised from the
unseeded global generator (torch_seed), a DataLoader shuffled from the global generator after a
varying number of draws (torch_loader_seed). A run that upsamples with F.interpolate carries a
portability warning naming the op, on its page and its job's.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_frameworks
from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "torch_project"

require_frameworks()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    """A server and one agent whose project is tests/torch_project."""
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    system = LiveSystem(
        tmp_path_factory.mktemp("torch-audit"), extra_env={"PYTHONPATH": pythonpath}, cwd=PROJECT
    )
    system.start_server()
    system.start_agent("one")
    deadline = time.monotonic() + 180
    while "torch_leak_unseeded" not in _catalog(system):
        assert time.monotonic() < deadline, system.logs()
        time.sleep(0.5)
    yield system
    system.stop()


def _catalog(live: LiveSystem) -> set[str]:
    return {item["name"] for item in httpx.get(f"{live.url}/api/v1/experiments", timeout=10).json()}


def _audit(live: LiveSystem, experiment: str, *toggles: str) -> dict[str, Any]:
    named = [arg for toggle in toggles for arg in ("--toggle", toggle)]
    result = live.cli(
        "audit", experiment, "--seed", "42", "--param", "epochs=2", *named, "--wait", "--json"
    )
    assert result.returncode == 0, result.stdout + result.stderr + live.logs()
    audit: dict[str, Any] = json.loads(result.stdout)
    assert audit["complete"], audit
    return audit


def test_unseeded_torch_weights_are_traced_to_torch_seed(live: LiveSystem) -> None:
    # The loader toggle is audited too: with PyTorch's global seed set, a DataLoader without a
    # generator shuffles from it in the same order every run, so it must not be blamed.
    audit = _audit(live, "torch_leak_unseeded", "torch_seed", "torch_loader_seed")
    assert audit["baseline_bitwise"] is True
    assert audit["culprits"] == ["torch_seed"]
    row = audit["toggles"]["torch_seed"]
    assert row["max_abs_diff"]["loss"] > 0
    # A script's JSON lines carry no per-layer trace: the first differing epoch is what is known.
    assert row["first_divergence"]["epoch"] == 1
    assert audit["toggles"]["torch_loader_seed"]["breaks_bitwise"] is False


def test_a_loader_order_leak_is_traced_to_torch_loader_seed(live: LiveSystem) -> None:
    audit = _audit(live, "torch_leak_loader_order", "torch_loader_seed")
    assert audit["baseline_bitwise"] is True
    assert audit["culprits"] == ["torch_loader_seed"]
    assert audit["toggles"]["torch_loader_seed"]["max_abs_diff"]["loss"] > 0


def test_an_op_without_a_deterministic_cuda_kernel_is_shown_on_the_pages(
    live: LiveSystem,
) -> None:
    result = live.cli(
        "submit", "torch_middle", "--seeds", "42", "--profile", "full",
        "--param", "epochs=1", "--param", "middle=bilinear", "--wait", "--json",
    )
    assert result.returncode in (0, 1), result.stderr + live.logs()
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["status"] == "succeeded", live.logs()
    run = httpx.get(f"{live.url}/api/v1/runs/{report['runs'][0]['id']}", timeout=10).json()
    assert [(w["code"], w["where"]) for w in run["warnings"]] == [
        ("no_deterministic_cuda_kernel", "op aten.upsample_bilinear2d_backward")
    ]
    for page in (f"/runs/{run['id']}", f"/jobs/{report['id']}"):
        html = httpx.get(f"{live.url}{page}", timeout=10).text
        assert 'data-code="no_deterministic_cuda_kernel"' in html, page
        assert "aten.upsample_bilinear2d_backward" in html, page

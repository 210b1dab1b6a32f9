"""End to end: examples/torch_script (PyTorch) and examples/keras_jax (Keras 3 on JAX), unmodified
scripts that never seed, through a real server and a real agent started in each example's
directory (CPU): bitwise under `full`, not under `none`, controls shown as applied."""

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

require_frameworks()

CASES = {
    "torch_script": ("epochs=2", "device=cpu"),
    "keras_jax": ("epochs=2",),
}
# What the run page must say for each (the control table's texts).
APPLIED = {
    "torch_script": ("torch.use_deterministic_algorithms(True)", "torch.manual_seed(seed)"),
    "keras_jax": ("--xla_gpu_deterministic_ops=true", "Keras&#39; global random seed set"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, LiveSystem]]:
    name: str = request.param
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    live = LiveSystem(
        tmp_path_factory.mktemp(f"{name}-e2e"),
        extra_env={"PYTHONPATH": pythonpath},
        cwd=REPO / "examples" / name,
    )
    live.start_server()
    live.start_agent("one")
    deadline = time.monotonic() + 180
    while name not in _catalog(live):
        assert time.monotonic() < deadline, live.logs()
        time.sleep(0.5)
    yield name, live
    live.stop()


def _catalog(live: LiveSystem) -> dict[str, Any]:
    items = httpx.get(f"{live.url}/api/v1/experiments", timeout=10).json()
    return {item["name"]: item for item in items}


def _submit_wait(live: LiveSystem, name: str, profile: str) -> dict[str, Any]:
    params = [arg for value in CASES[name] for arg in ("--param", value)]
    result = live.cli(
        "submit", name, "--seeds", "42:1x2", "--profile", profile, *params, "--wait", "--json"
    )
    assert result.returncode in (0, 1), result.stderr + live.logs()
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["status"] == "succeeded", live.logs()
    return report


def test_bitwise_under_full_with_the_controls_applied(system: tuple[str, LiveSystem]) -> None:
    name, live = system
    report = _submit_wait(live, name, "full")
    assert report["verdict"] == "bitwise"
    assert len({run["weights_checksum"] for run in report["runs"]}) == 1
    run = httpx.get(f"{live.url}/api/v1/runs/{report['runs'][0]['id']}").json()
    how = run["applied_profile"]["how"]
    assert how["tf_seed"] == "not applied: the script never imported TensorFlow"
    page = httpx.get(f"{live.url}/runs/{run['id']}").text
    assert 'id="applied-how"' in page
    for text in APPLIED[name]:
        assert text in page, text
    # The job page lists the framework toggles of the profile as on.
    job_page = httpx.get(f"{live.url}/jobs/{report['id']}").text
    framework_toggle = "torch_deterministic" if name == "torch_script" else "xla_deterministic"
    assert f'title="on">✓ {framework_toggle}' in job_page
    # ... and TensorFlow's as not applied: the script never imported it.
    toggles = {row["name"]: row for row in report["applied_toggles"]}
    assert toggles["tf_seed"]["requested"] and toggles["tf_seed"]["applied"] == 0
    assert "never imported TensorFlow" in toggles["tf_seed"]["reason"]
    assert toggles[framework_toggle]["applied"] == toggles[framework_toggle]["reported"] == 2
    assert 'title="on">✓ tf_seed' not in job_page
    assert "<strong>tf_seed</strong>: not applied" in job_page


def test_not_bitwise_under_none(system: tuple[str, LiveSystem]) -> None:
    name, live = system
    report = _submit_wait(live, name, "none")
    assert report["verdict"] == "nondeterministic"
    assert len({run["weights_checksum"] for run in report["runs"]}) == 2

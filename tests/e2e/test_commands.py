"""End to end: examples/keras_script, an unmodified Keras script, through a real server and agent.

Both processes start in the example directory, as `cd examples/keras_script && seedlab up` does:
the agent reads the project file there and runs the command with seedlab's start-up hook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "keras_script"

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    live = LiveSystem(
        tmp_path_factory.mktemp("command-e2e"),
        extra_env={"PYTHONPATH": pythonpath},
        cwd=EXAMPLE,
    )
    live.start_server()
    live.start_agent("one")
    # The server learns of the command experiment from the agent's advertisement.
    deadline = time.monotonic() + 180
    while "keras_script" not in _catalog(live):
        assert time.monotonic() < deadline, live.logs()
        time.sleep(0.5)
    yield live
    live.stop()


def _catalog(system: LiveSystem) -> dict[str, dict[str, Any]]:
    items = httpx.get(f"{system.url}/api/v1/experiments", timeout=10).json()
    return {item["name"]: item for item in items}


def test_the_agent_advertises_the_project_file_experiment(system: LiveSystem) -> None:
    entry = _catalog(system)["keras_script"]
    assert entry["online"] is True and entry["builtin"] is False
    assert entry["source"] == f"project {EXAMPLE / 'seedlab.toml'}"
    assert entry["defaults"] == {"epochs": 2, "learning_rate": 0.01, "units": 16}
    assert entry["params_schema"]["properties"]["epochs"]["maximum"] == 500


def _submit_wait(system: LiveSystem, *args: str) -> dict[str, Any]:
    result = system.cli("submit", *args, "--wait", "--json")
    assert result.returncode in (0, 1), result.stderr + system.logs()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_example_script_is_bitwise_under_full(system: LiveSystem) -> None:
    report = _submit_wait(
        system, "keras_script", "--seeds", "42:2x2", "--profile", "full", "--param", "epochs=2"
    )
    assert report["status"] == "succeeded", system.logs()
    assert report["verdict"] == "bitwise"
    by_seed: dict[int, set[str]] = {}
    for run in report["runs"]:
        by_seed.setdefault(run["seed"], set()).add(run["weights_checksum"])
    assert all(len(checksums) == 1 for checksums in by_seed.values())
    assert by_seed[42] != by_seed[43]
    # Same environment, same controls: only the data differs between the seeds (the script
    # draws it from NumPy's global generator, seeded with each run's seed); the seed itself
    # appears neither in "how" nor in the fingerprint's command.
    fingerprints: dict[int, set[str]] = {}
    for run in report["runs"]:
        fingerprints.setdefault(run["seed"], set()).add(run["fingerprint_hash"])
    assert all(len(hashes) == 1 for hashes in fingerprints.values())
    variation = httpx.get(f"{system.url}/api/v1/jobs/{report['id']}/variation").json()
    assert len(variation["runs_compared"]) == 4
    assert [field["name"] for field in variation["fields"]] == ["data_hash"]
    run = httpx.get(f"{system.url}/api/v1/runs/{report['runs'][0]['id']}").json()
    assert run["isolation"] == "process"
    assert run["isolation_reason"].startswith("command experiment")
    applied = run["applied_profile"]
    assert applied["python_seed"] == run["seed"] and applied["op_determinism"] is True
    numpy_how = "start-up hook: np.random.seed(seed) at interpreter start"
    assert applied["how"]["numpy_seed"] == numpy_how
    # The run page says how each control was applied.
    page = httpx.get(f"{system.url}/runs/{run['id']}").text
    assert numpy_how in page
    assert 'id="applied-how"' in page
    assert "seedlab's start-up hook applies the profile from outside it" in page


def test_example_script_differs_under_none(system: LiveSystem) -> None:
    report = _submit_wait(
        system, "keras_script", "--seeds", "42:1x2", "--profile", "none", "--param", "epochs=2"
    )
    assert report["status"] == "succeeded", system.logs()
    assert report["verdict"] == "nondeterministic"
    assert len({run["weights_checksum"] for run in report["runs"]}) == 2


def test_seedlab_check_runs_the_example_script(system: LiveSystem) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "check", "keras_script", "--param", "epochs=1"],
        cwd=EXAMPLE, env=system.env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "project " in result.stdout and "all 5 checks passed" in result.stdout
    assert "ok       data hash recorded" in result.stdout

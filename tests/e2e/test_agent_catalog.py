"""End to end: a real agent process advertises experiments the server itself never loaded."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.tf


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LiveSystem]:
    # This checkout's package first, then the repository root for tests.plugin_experiments.
    path = os.pathsep.join([str(REPO / "backend"), str(REPO)])
    live = LiveSystem(tmp_path, extra_env={"PYTHONPATH": path})
    live.start_server()
    # Only the agent loads the plugin module: the server learns of it from the advertisement.
    live.env = {**live.env, "SEEDLAB_EXPERIMENT_MODULES": "tests.plugin_experiments"}
    yield live
    live.stop()


def _catalog(system: LiveSystem) -> dict[str, dict]:  # type: ignore[type-arg]
    items = httpx.get(f"{system.url}/api/v1/experiments", timeout=10).json()
    return {item["name"]: item for item in items}


def test_an_agent_process_advertises_its_experiments_and_runs_them(system: LiveSystem) -> None:
    assert "flaky_test" not in _catalog(system)
    system.start_agent("one", "--warm", "")
    deadline = time.monotonic() + 120
    while "flaky_test" not in (items := _catalog(system)):
        assert time.monotonic() < deadline, system.logs()
        time.sleep(0.5)
    flaky = items["flaky_test"]
    version = flaky["version"]  # the spec's version with the hash of its source
    assert flaky["online"] is True and flaky["agents"] == 1 and version.startswith("1")
    assert flaky["source"] == "module tests.plugin_experiments"
    assert flaky["defaults"] == {"fail_seed": -1, "epochs": 2}
    assert items["seed_card_mlp"]["online"] is True

    listing = system.cli("experiments")
    assert listing.returncode == 0, listing.stderr
    line = f"flaky_test v{version} (online, 1 live agent(s)) [module tests.plugin_experiments]"
    assert line in listing.stdout
    assert "module tests.plugin_experiments on agent one: loaded 1 experiment(s) (flaky_test)" in (
        listing.stdout
    )
    as_json = json.loads(system.cli("experiments", "--json").stdout)
    assert {"name", "version", "params_schema", "defaults", "online"} <= set(as_json[0])

    bad = system.cli("submit", "flaky_test", "--param", "epochs=0")
    assert bad.returncode == 2 and "params.epochs" in bad.stderr

    result = system.cli(
        "submit", "flaky_test", "--param", "epochs=1", "--seeds", "1:1x1", "--wait", "--json"
    )
    assert result.returncode == 0, result.stderr + system.logs()
    report = json.loads(result.stdout)
    assert report["experiment_version"] == version
    # The version the run process loaded, sent with `started`.
    assert [run["experiment_version"] for run in report["runs"]] == [version]

    # A source that fails on a live agent is loud: the jobs page's banner and the CLI say so.
    broken = system.data_dir / "broken_model.py"
    broken.write_text("import no_such_module_for_seedlab_tests\n")
    system.start_agent("two", "--warm", "", "--experiments", str(broken))
    deadline = time.monotonic() + 120
    while "no_such_module_for_seedlab_tests" not in (html := httpx.get(system.url).text):
        assert time.monotonic() < deadline, system.logs()
        time.sleep(0.5)
    assert 'id="failed-sources"' in html and "<strong>two</strong>" in html
    listing = system.cli("experiments").stdout
    assert "on agent two: FAILED: " in listing and "no_such_module_for_seedlab_tests" in listing

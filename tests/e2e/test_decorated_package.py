"""examples/decorated_package end to end: installed with pip, found through its entry point,
run by a real agent, checked by `seedlab check`; a broken source is loud at agent start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import LiveSystem, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "decorated_package"

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed into a target directory, as `pip install` would for a user."""
    target = tmp_path_factory.mktemp("churn") / "site"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--target", str(target), str(EXAMPLE),
        ],
        check=True,
        timeout=300,
    )
    return target


@pytest.fixture(scope="module")
def env(site: Path) -> dict[str, str]:
    """Environment of every seedlab process here: this checkout's seedlab and the example."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "backend"), str(site)]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path_factory.mktemp("churn-e2e"), extra_env={
        "PYTHONPATH": env["PYTHONPATH"]
    })
    live.start_server()
    live.start_agent("one")
    yield live
    live.stop()


def _submit_wait(system: LiveSystem, *args: str) -> dict[str, Any]:
    result = system.cli("submit", *args, "--wait", "--json")
    assert result.returncode in (0, 1), result.stderr + system.logs()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _digest_of_package(site: Path) -> str:
    code = (
        "from seedlab.experiments.versioning import module_digest, short\n"
        "print(short(module_digest('churn_model.experiments')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "backend"), str(site)])},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _wait_for_text(path: Path, text: str, timeout: float = 180.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not in {path} after {timeout:.0f} s")


def test_the_agent_says_it_loaded_the_entry_point(system: LiveSystem) -> None:
    _wait_for_text(
        system.data_dir / "agent-one.log",
        "loaded entry point churn (churn_model.experiments) (2 experiments: churn_loop, "
        "churn_fit)",
    )


def test_same_seed_repeats_are_bit_identical_under_full(system: LiveSystem, site: Path) -> None:
    full = _submit_wait(
        system, "churn_loop", "--param", "epochs=2", "--seeds", "42:1x2", "--profile", "full"
    )
    assert full["status"] == "succeeded", system.logs()
    assert full["verdict"] == "bitwise"
    checksums = {run["weights_checksum"] for run in full["runs"]}
    assert len(checksums) == 1 and None not in checksums
    assert set(full["metrics"]) == {"loss", "accuracy"}
    # The same seed without controls: initial weights differ, so the check above can fail.
    none = _submit_wait(
        system, "churn_loop", "--param", "epochs=2", "--seeds", "42:1x2", "--profile", "none"
    )
    assert none["status"] == "succeeded" and none["verdict"] == "nondeterministic"
    assert len({run["weights_checksum"] for run in none["runs"]}) == 2
    # The run recorded the version of the source it ran: the package's hash.
    version = _digest_of_package(site)
    run = httpx.get(f"{system.url}/api/v1/runs/{full['runs'][0]['id']}").json()
    fingerprint = httpx.get(f"{system.url}/api/v1/fingerprints/{run['fingerprint_hash']}").json()
    assert fingerprint["data"]["experiment"]["version"] == version
    assert fingerprint["data"]["experiment"]["entrypoint"] == "churn_model.experiments:train_loop"


def test_a_broken_source_is_loud_and_the_others_still_load(
    system: LiveSystem, tmp_path: Path
) -> None:
    broken = tmp_path / "feature_store_model.py"
    broken.write_text("raise RuntimeError('cannot reach the feature store')\n")
    good = tmp_path / "tiny_model.py"
    good.write_text(
        textwrap.dedent(
            """\
            from seedlab import experiment

            @experiment(name="tiny_model")
            def train(params, ctx):
                ctx.log(1, loss=1.0)
            """
        )
    )
    stderr_path = tmp_path / "agent.stderr"
    with stderr_path.open("wb") as stderr:
        agent = subprocess.Popen(
            [
                sys.executable, "-m", "seedlab.cli", "agent", "--server", system.url,
                "--name", "loud", "--warm", "", "--experiments", str(broken),
                "--experiments", str(good),
            ],
            env=system.env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while "tiny_model" not in stderr_path.read_text() and time.monotonic() < deadline:
            assert agent.poll() is None, stderr_path.read_text()
            time.sleep(0.3)
        text = stderr_path.read_text()
        assert (
            f"FAILED file {broken}: RuntimeError: cannot reach the feature store "
            f"(at {broken}:1); the module raised while it was imported" in text
        ), text
        assert f"loaded file {good} (1 experiment: tiny_model)" in text, text
        assert "loaded entry point churn" in text
        time.sleep(1.0)
        assert agent.poll() is None, text  # a failed source does not stop the agent
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def _check(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "check", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_check_passes_the_custom_loop(env: dict[str, str], tmp_path: Path) -> None:
    result = _check(env, tmp_path, "churn_loop", "--param", "units=4")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"units": 4, "epochs": 2' in out  # epochs capped for a quick check
    for name in ("run finished", "metrics reported", "epochs declared", "data hash recorded",
                 "weights found"):
        assert f"ok       {name}: " in out, out
    assert "all 5 checks passed" in out


def test_check_passes_plain_fit_through_the_automatic_hook(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = _check(env, tmp_path, "churn_fit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 5 checks passed" in result.stdout


def test_up_hands_its_sources_to_every_local_agent(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "tiny_up.py").write_text(
        "from seedlab import experiment\n\n\n@experiment(name='tiny_up')\n"
        "def train(params, ctx):\n    ctx.log(1, loss=1.0)\n"
    )
    stderr_path = tmp_path / "up.stderr"
    port = free_port()
    with stderr_path.open("wb") as stderr:
        up = subprocess.Popen(
            [
                sys.executable, "-m", "seedlab.cli", "up", "--port", str(port), "--agents", "2",
                "--experiments", "./tiny_up.py",
            ],
            env={**env, "SEEDLAB_DATA_DIR": str(tmp_path / "data")},
            cwd=tmp_path,
            stdout=stderr,  # "seedlab is up ..." is printed on stdout
            stderr=stderr,
        )
    try:
        _wait_for_text(stderr_path, "with 2 local agent(s)")
        text = _wait_for_text(
            stderr_path, f"loaded file {tmp_path / 'tiny_up.py'} (1 experiment: tiny_up)"
        )
        # Both agents register once they loaded their sources; only the first one prints them.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            agents = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents").json()
            if len(agents) == 2:
                break
            time.sleep(0.3)
        assert len(agents) == 2, agents
        text = stderr_path.read_text()
        assert text.count("loaded file") == 1 and text.count("loaded builtin") == 1, text
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()

"""The Ray executor's parts that need no cluster: runtime_env, option checks, loss handling."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seedlab.cli import app
from seedlab.experiments.loader import MODULES_ENV, SOURCES_ENV
from seedlab.profiles import ProfileSpec, resolve_profile

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'seedlab[ray]')")

from seedlab.runner.raylauncher import (  # noqa: E402
    CLIENT_REFUSED,
    FORKED_REASON,
    RayLauncher,
    RayRunHandle,
    RayUnavailable,
    runtime_env,
)
from seedlab.runner.raytask import materialise_datasets  # noqa: E402


def test_runtime_env_carries_every_pre_import_control_of_the_profile() -> None:
    full = runtime_env(resolve_profile("full"))
    assert full["env_vars"]["PYTHONHASHSEED"] == "0"
    # Only the profile's variables: one warm worker per pre-import environment, whatever
    # the agent's own environment (its experiment sources travel as the code bundle).
    assert full == runtime_env(resolve_profile("full"))
    assert SOURCES_ENV not in full["env_vars"] and MODULES_ENV not in full["env_vars"]
    custom = resolve_profile(
        ProfileSpec(preset="full", hash_seed_value=7, env={"TF_ENABLE_ONEDNN_OPTS": "1"})
    )
    variables = runtime_env(custom)["env_vars"]
    assert variables["PYTHONHASHSEED"] == "7"
    assert variables["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert variables == {k: v for k, v in custom.pre_import_env().items() if v is not None}


def test_a_profile_without_hash_seed_leaves_the_worker_its_random_hash() -> None:
    unseeded = resolve_profile(ProfileSpec(preset="full", hash_seed=False))
    assert "PYTHONHASHSEED" not in runtime_env(unseeded)["env_vars"]


def test_the_agent_side_of_the_ray_executor_never_imports_tensorflow() -> None:
    code = (
        "import sys, seedlab.agent.rayworker, seedlab.runner.raylauncher, seedlab.runner.raytask;"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "ray"], "--executor ray needs --ray-address"),
        (["--executor", "ray", "--ray-address", "auto", "--concurrency", "2"], "cluster's free"),
        (["--executor", "ray", "--ray-address", "auto", "--gpus", "0"], "cluster's free"),
        (["--ray-address", "auto"], "--ray-address applies only with --executor ray"),
        (["--executor", "slurm"], "is not one of 'local'"),
    ],
)
def test_ray_options_are_checked_before_anything_starts(args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        app, ["agent", "--server", "http://127.0.0.1:9", *args], env={"SEEDLAB_RAY_ADDRESS": ""}
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def test_datasets_reach_the_ray_node_checked_by_their_hash(tmp_path: Path) -> None:
    data = b"x,y\n1,0\n"
    sha = hashlib.sha256(data).hexdigest()
    paths = materialise_datasets({sha: data})
    assert Path(paths[sha]).read_bytes() == data
    with pytest.raises(ValueError, match="arrived corrupted"):
        materialise_datasets({sha: data + b"2,1\n"})


def _stream(error: Exception, events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The items a task's stream yields, then the error Ray raises when the stream breaks."""
    yield from events
    raise error


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    return event


# No local Ray is started here: outside a network namespace it would bind the external
# interface. The stream's items are plain events (fetch=_plain instead of ray.get).


def test_a_lost_worker_is_the_executors_loss_not_the_runs() -> None:
    handle = RayRunHandle(
        _stream(ray.exceptions.WorkerCrashedError(), [{"event": "applied", "profile": {}}]),
        fetch=_plain,
    )
    assert [e["event"] for e in handle.events()] == ["applied"]
    assert handle.wait() == -9
    assert handle.lost_reason is not None and "WorkerCrashedError" in handle.lost_reason


def test_a_cancelled_task_is_not_lost() -> None:
    handle = RayRunHandle(_stream(ray.exceptions.TaskCancelledError(), []), fetch=_plain)
    assert handle.wait() == -9
    assert handle.lost_reason is None


def test_the_exit_item_carries_the_run_process_exit_code() -> None:
    events = [{"event": "done", "final_metrics": {}}, {"event": "exit", "code": 0}]
    handle = RayRunHandle(iter(events), fetch=_plain)
    assert [e["event"] for e in handle.events()] == ["done"]
    assert handle.wait() == 0 and handle.lost_reason is None


def test_a_warm_worker_says_how_it_started_the_run() -> None:
    events = [
        {"event": "isolation", "isolation": "fork", "reason": None, "pid": 7},
        {"event": "applied", "profile": {}},
        {"event": "exit", "code": 1, "stderr": "Traceback: boom"},
    ]
    handle = RayRunHandle(iter(events), fetch=_plain)
    assert [e["event"] for e in handle.events()] == ["applied"]
    assert handle.isolation == "ray" and handle.isolation_reason == FORKED_REASON
    # A run that died without a result shows what it printed, as a local run does.
    assert handle.wait() == 1 and handle.stderr_tail() == "Traceback: boom"
    cold = RayRunHandle(
        iter([{"event": "isolation", "isolation": "process", "reason": "hash seed is off"}]),
        fetch=_plain,
    )
    cold.wait()
    assert cold.isolation_reason == "Ray task: a fresh interpreter on its node (hash seed is off)"


@pytest.mark.parametrize("address", ["ray://head:10001", "RAY://10.0.0.5:10001"])
def test_ray_client_addresses_are_refused_with_what_to_do_instead(address: str) -> None:
    with pytest.raises(RayUnavailable) as refused:
        RayLauncher(address)
    assert str(refused.value) == CLIENT_REFUSED
    assert "ray start --address=HEAD:6379 --num-cpus=0" in CLIENT_REFUSED
    result = CliRunner().invoke(
        app,
        ["agent", "--server", "http://127.0.0.1:9", "--executor", "ray", "--ray-address", address],
    )
    assert result.exit_code == 1, result.output
    assert "Ray Client addresses (ray://) are not supported" in result.output

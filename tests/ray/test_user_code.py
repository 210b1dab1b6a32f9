"""User experiments on Ray: the agent's code travels to the nodes, whatever their disks hold.

The Ray agent starts in a mount namespace of its own where its experiment sources sit on a
tmpfs: the Ray nodes see an empty folder at that path, so a run can only succeed with the code
the agent shipped. A decorated file and a seedlab.toml command experiment each run to a
`bitwise` verdict under `full`, with the weights of the local fork runner, and each run reports
the version the catalog shows.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import TOKEN, LiveSystem
from tests.ray.test_ray_executor import _checksums, _finished, _runs, _wait
from tests.raycluster import INSIDE_SERVER, REPO, RayCluster

pytestmark = [pytest.mark.tf]

DECORATED = '''
"""A user experiment loaded with --experiments: a tiny Keras MLP."""

import numpy as np
from pydantic import BaseModel

import seedlab
from shipped_data import rows


class Params(BaseModel):
    epochs: int = 2


@seedlab.experiment(name="shipped_mlp", params=Params)
def train(params, ctx):
    """A tiny MLP on fixed rows; the profile seeds its initialisation and order."""
    import keras

    x, y = rows()
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
         keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=params.epochs, batch_size=16, verbose=0)
'''
DATA = '''
import numpy as np


def rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    return x, (x.sum(axis=1) > 0).astype("float32")
'''
JOBS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("shipped_mlp", {}),
    ("keras_script", {"epochs": 2}),
)


@pytest.fixture
def system(tmp_path: Path, ray_cluster: RayCluster) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path, lease_seconds=20.0)
    live.start_server()
    ray_cluster.server_port = live.port
    yield live
    live.stop()


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    """The experiment sources: a decorated file (with the module it imports) and a project."""
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "shipped_mlp.py").write_text(DECORATED)
    (stage / "shipped_data.py").write_text(DATA)
    shutil.copytree(REPO / "examples" / "keras_script", stage / "proj")
    return stage


def _private_agent(cluster: RayCluster, system: LiveSystem, stage: Path, hidden: Path) -> int:
    """The Ray agent, seeing `stage`'s files at `hidden` on a tmpfs only it can see."""
    script = (
        'mount -t tmpfs tmpfs "$1" && cp -r "$2"/. "$1"/ && shift 2 && exec "$@"'
    )
    argv = [
        "unshare", "--mount", "sh", "-c", script, "agent-mount", str(hidden), str(stage),
        sys.executable, "-m", "seedlab.cli", "agent", "--executor", "ray",
        "--ray-address", cluster.address, "--server", INSIDE_SERVER, "--name", "ray-user",
        "--quiet-sources", "--experiments", f"{hidden}/shipped_mlp.py",
        "--experiments", f"{hidden}/proj/",
    ]  # fmt: skip
    env = {"SEEDLAB_AGENT_TOKEN": TOKEN, "SEEDLAB_DATA_DIR": str(system.data_dir)}
    log = system.data_dir / "agent-ray-user.log"
    return int(cluster.command(cmd="run", argv=argv, env=env, log=str(log), cwd=str(REPO))["pid"])


def _catalog(http: httpx.Client) -> dict[str, str]:
    return {e["name"]: e["version"] for e in http.get("/api/v1/experiments").json()}


def _job(
    system: LiveSystem, http: httpx.Client, name: str, seeds: str, params: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reply = http.post(
        "/api/v1/jobs",
        json={"experiment": name, "seeds": seeds, "profile": "full", "params": params},
    )
    assert reply.status_code == 201, reply.text
    job = _finished(system, http, int(reply.json()["id"]))
    return job, _runs(http, job["id"])


def test_user_experiments_run_on_ray_from_the_code_the_agent_shipped(
    system: LiveSystem, ray_cluster: RayCluster, stage: Path, tmp_path: Path
) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()  # empty for the Ray nodes; the agent mounts its sources over it
    agent = _private_agent(ray_cluster, system, stage, hidden)
    on_ray: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    with httpx.Client(base_url=system.url, timeout=30) as http:
        try:
            catalog = _wait(
                system,
                "the Ray agent's experiments in the catalog",
                lambda: (c := _catalog(http)).keys() >= {"shipped_mlp", "keras_script"} and c,
            )
            for name, params in JOBS:
                on_ray[name] = _job(system, http, name, "42:1x2", params)
        finally:
            ray_cluster.stop_process(agent)
        system.start_agent(
            "local", "--warm", "", "--experiments", str(stage / "shipped_mlp.py"),
            "--experiments", f"{stage / 'proj'}/",
        )  # fmt: skip
        forked = {name: _job(system, http, name, "42:1", params)[1] for name, params in JOBS}

    for name, (job, runs) in on_ray.items():
        assert job["status"] == "succeeded", system.logs()
        assert job["verdict"] == "bitwise", job
        assert {run["isolation"] for run in runs} == {"ray"}
        # A command experiment gets a fresh interpreter on both (its start-up hook).
        local = "process" if name == "keras_script" else "fork"
        assert {run["isolation"] for run in forked[name]} == {local}
        # Same bits on both nodes and on the fork runner.
        assert _checksums(runs) == _checksums(forked[name]), name
        # The version each run executed is the version the catalog shows.
        assert {run["experiment_version"] for run in runs} == {catalog[name]}, runs
        assert {run["experiment_version"] for run in forked[name]} == {catalog[name]}

"""The Ray executor end to end: a real server, a real two-node Ray cluster, real TensorFlow.

Runs execute as Ray tasks (fresh worker per run); results must be bit-identical to the local
fork runner's, a cancelled job must free its Ray workers, and a Ray node killed mid-run must
turn into the run's next attempt with nothing lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livesystem import TOKEN, LiveSystem
from tests.raycluster import RayCluster

pytestmark = [pytest.mark.tf]

TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def system(tmp_path: Path, ray_cluster: RayCluster) -> Iterator[LiveSystem]:
    live = LiveSystem(tmp_path, lease_seconds=20.0)
    live.start_server()
    ray_cluster.server_port = live.port  # the namespace's relay now leads to this server
    yield live
    live.stop()


@pytest.fixture
def ray_agent(system: LiveSystem, ray_cluster: RayCluster) -> Iterator[int]:
    """A `seedlab agent --executor ray` inside the namespace, stopped after the test."""
    env = {"SEEDLAB_AGENT_TOKEN": TOKEN, "SEEDLAB_DATA_DIR": str(system.data_dir)}
    pid = ray_cluster.start_agent("ray", env=env, log=system.data_dir / "agent-ray.log")
    yield pid
    ray_cluster.stop_process(pid)


def _wait(system: LiveSystem, what: str, check: Callable[[], Any], seconds: float = 300) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{system.logs()}"
        time.sleep(0.5)
    return value


def _submit(http: httpx.Client, seeds: str, **params: Any) -> int:
    reply = http.post(
        "/api/v1/jobs",
        json={"experiment": "seed_card_mlp", "seeds": seeds, "profile": "full", "params": params},
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def _finished(system: LiveSystem, http: httpx.Client, job_id: int) -> dict[str, Any]:
    job: dict[str, Any] = _wait(
        system,
        f"job {job_id} to end",
        lambda: (j := http.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL and j,
    )
    return job


def _runs(http: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    summaries = http.get(f"/api/v1/jobs/{job_id}/runs").json()
    return [http.get(f"/api/v1/runs/{run['id']}").json() for run in summaries]


def _checksums(runs: list[dict[str, Any]]) -> dict[int, set[str]]:
    by_seed: dict[int, set[str]] = {}
    for run in runs:
        assert run["status"] == "succeeded", run
        by_seed.setdefault(run["seed"], set()).add(run["weights_checksum"])
    return by_seed


def test_ray_runs_are_bit_identical_to_the_fork_runner(
    system: LiveSystem, ray_cluster: RayCluster, ray_agent: int
) -> None:
    import ray

    with httpx.Client(base_url=system.url, timeout=30) as http:
        on_ray = _runs(http, _finished(system, http, _submit(http, "42:2x2"))["id"])
        ray_cluster.stop_process(ray_agent)
        system.start_agent("local", "--warm", "")
        forked = _runs(http, _finished(system, http, _submit(http, "42:2x2"))["id"])
        fingerprints = [
            http.get(f"/api/v1/fingerprints/{run['fingerprint_hash']}").json()["data"]
            for run in on_ray
        ]
        page = http.get(f"/runs/{on_ray[0]['id']}").text

    assert {run["isolation"] for run in on_ray} == {"ray"}
    assert {run["isolation"] for run in forked} == {"fork"}
    # Same seed, same bits: across repeats on Ray, and between Ray and the fork runner.
    ray_sums, fork_sums = _checksums(on_ray), _checksums(forked)
    assert all(len(sums) == 1 for sums in ray_sums.values()), ray_sums
    assert ray_sums == fork_sums
    assert len({next(iter(s)) for s in ray_sums.values()}) == 2  # the two seeds differ
    # The fingerprint names the Ray node and version; two runs at once used both nodes.
    assert {fp["ray"]["version"] for fp in fingerprints} == {ray.__version__}
    assert len({fp["ray"]["node_id"] for fp in fingerprints}) == 2
    assert "Ray node" in page and fingerprints[0]["ray"]["node_id"] in page
    # The hash seed reached the worker before its interpreter started.
    assert {fp["python"]["hash_randomization"] for fp in fingerprints} == {False}
    assert {run["applied_profile"]["hash_seed"] for run in on_ray} == {"0"}


def _two_training(system: LiveSystem, http: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    """Both runs of the job running on Ray and past their first epoch."""
    runs: list[dict[str, Any]] = _wait(
        system,
        "two runs training at once",
        lambda: len(
            r := [
                run
                for run in http.get(f"/api/v1/jobs/{job_id}/runs").json()
                if run["status"] == "running" and (run.get("epoch") or 0) >= 1
            ]
        )
        == 2
        and r,
    )
    return runs


def _training_on_the_second_node(
    system: LiveSystem, http: httpx.Client, ray_cluster: RayCluster, job_id: int
) -> None:
    """Until a run of the job is past its first epoch in a worker of the node `kill_node` kills.

    Waiting for both runs at once would be racy: one node's worker may still be starting its
    zygote (another test's code left it another one) while the other node's run trains to the end.
    """

    def worker_pid(run: dict[str, Any]) -> int | None:
        fingerprint = http.get(f"/api/v1/fingerprints/{run['fingerprint_hash']}").json()
        return fingerprint["data"].get("ray", {}).get("worker_pid")

    def on_second_node() -> bool:
        training = [
            run
            for run in http.get(f"/api/v1/jobs/{job_id}/runs").json()
            if run["status"] == "running" and (run.get("epoch") or 0) >= 1
            and run["fingerprint_hash"]
        ]
        pids = ray_cluster.second_node_pids() if training else set()
        return any(worker_pid(run) in pids for run in training)

    _wait(system, "a run training on the second Ray node", on_second_node)


def test_cancel_stops_the_ray_tasks(
    system: LiveSystem, ray_cluster: RayCluster, ray_agent: int
) -> None:
    with httpx.Client(base_url=system.url, timeout=30) as http:
        job_id = _submit(http, "42:2x1", epochs=5000)
        _two_training(system, http, job_id)
        assert ray_cluster.cpus_in_use() == 2.0
        assert http.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
        job = _finished(system, http, job_id)
        runs = _runs(http, job_id)
    assert job["status"] == "cancelled"
    assert {run["status"] for run in runs} == {"cancelled"}
    # The tasks were stopped, not left training: the cluster's CPUs are free again.
    _wait(system, "Ray to free the CPUs", lambda: ray_cluster.cpus_in_use() == 0.0, 60)


def test_a_run_needing_more_cpus_than_any_node_waits_with_the_reason(
    system: LiveSystem, ray_cluster: RayCluster, ray_agent: int
) -> None:
    """The Ray agent offers the CPUs of its largest node (1 here), not the cluster's total: a
    run that needs 2 is never handed to it, and the job page says why."""
    with httpx.Client(base_url=system.url, timeout=30) as http:
        agents = _wait(system, "the Ray agent", lambda: http.get("/api/v1/agents").json())
        assert [agent["cpus"] for agent in agents] == [1], agents
        reply = http.post(
            "/api/v1/jobs",
            json={"experiment": "seed_card_mlp", "seeds": "42:1x1", "requires": {"cpus": 2}},
        )
        assert reply.status_code == 201, reply.text
        job_id = int(reply.json()["id"])
        time.sleep(3)  # a few claim rounds of the agent
        assert http.get(f"/api/v1/jobs/{job_id}").json()["status"] == "queued"
        page = http.get(f"/jobs/{job_id}").text
        assert "no agent with 2 CPUs" in page, page
        assert http.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200


def test_a_killed_ray_node_loses_nothing(
    system: LiveSystem, ray_cluster: RayCluster, ray_agent: int
) -> None:
    try:
        with httpx.Client(base_url=system.url, timeout=30) as http:
            # One seed twice: the retried run must still match its twin bit for bit.
            job_id = _submit(http, "42:1x2", epochs=100)
            _training_on_the_second_node(system, http, ray_cluster, job_id)
            ray_cluster.command(cmd="kill_node")
            job = _finished(system, http, job_id)
            runs = _runs(http, job_id)
    finally:
        ray_cluster.command(cmd="start_node")  # the cluster is shared by the session
    assert job["status"] == "succeeded", system.logs()
    assert len(_checksums(runs)[42]) == 1
    retried = [run for run in runs if run["attempt"] > 1]
    assert len(retried) == 1, runs
    lost = retried[0]["attempts"][0]
    assert lost["outcome"] == "interrupted"
    assert "Ray worker" in lost["error"], lost

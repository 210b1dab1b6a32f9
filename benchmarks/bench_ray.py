"""The 10-run reference job (seed_card_mlp, 42:5x2, full) on Ray vs the local fork runner.

Usage (as root: the Ray cluster runs in a loopback-only network namespace):
    python benchmarks/bench_ray.py
Both executors get two run slots on this machine: a two-node Ray cluster with one CPU per node,
and two local agents whose zygotes are warm. Per run, the time from claim to finish is read from
the server; the time Ray adds per run is the difference of the medians. A warm Ray worker
forks each run from the zygote it keeps, as a local agent does; what remains is Ray's own
scheduling, the streamed events and the code bundle's check. Without root it says why and
exits 0 (`make bench` runs it as one of the benchmarks).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem
from tests.raycluster import RayCluster, ray_unavailable

SEEDS = "42:5x2"


def _job(live: LiveSystem) -> tuple[float, list[float], dict[int, set[str]]]:
    """Submit the job; its wall time, each run's claim-to-finish seconds, checksums by seed."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        started = time.perf_counter()
        job = http.post(
            "/api/v1/jobs",
            json={"experiment": "seed_card_mlp", "seeds": SEEDS, "profile": "full"},
        ).json()
        while http.get(f"/api/v1/jobs/{job['id']}").json()["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        runs = [
            http.get(f"/api/v1/runs/{r['id']}").json()
            for r in http.get(f"/api/v1/jobs/{job['id']}/runs").json()
        ]
    seconds = [_seconds(r["started_at"], r["finished_at"]) for r in runs]
    sums: dict[int, set[str]] = {}
    for run in runs:
        sums.setdefault(run["seed"], set()).add(run["weights_checksum"])
    return elapsed, seconds, sums


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _warm_up(live: LiveSystem) -> None:
    """One small job first, so neither side pays a first-start cost inside the timing."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        job = http.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:2"})
        while http.get(f"/api/v1/jobs/{job.json()['id']}").json()["status"] != "succeeded":
            time.sleep(0.2)


def _measure(start_agents: Callable[[LiveSystem], None]) -> tuple[Any, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), lease_seconds=60)
        try:
            live.start_server()
            start_agents(live)
            _warm_up(live)
            return _job(live)
        finally:
            live.stop()


def main() -> None:
    """Measure both executors in this one run and print the figures."""
    reason = ray_unavailable()
    if reason is not None:
        print(f"bench_ray skipped: {reason}")
        return
    cluster = RayCluster(head_cpus=1, node_cpus=1).start()
    agent_pids: list[int] = []

    def on_ray(live: LiveSystem) -> None:
        cluster.server_port = live.port
        env = {"SEEDLAB_AGENT_TOKEN": TOKEN, "SEEDLAB_DATA_DIR": str(live.data_dir)}
        agent_pids.append(cluster.start_agent("bench-ray", env=env, log=live.data_dir / "a.log"))

    def forked(live: LiveSystem) -> None:
        live.start_agent("bench-local", "--concurrency", "2")

    try:
        ray_wall, ray_runs, ray_sums = _measure(on_ray)
        for pid in agent_pids:
            cluster.stop_process(pid)
        fork_wall, fork_runs, fork_sums = _measure(forked)
    finally:
        cluster.stop()
    overhead = median(ray_runs) - median(fork_runs)
    report(
        f"10-run reference job ({SEEDS}, full): Ray executor vs local fork runner, 2 slots "
        f"each ({datetime.now().date().isoformat()})",
        [
            ("job wall time, Ray (2 nodes x 1 CPU)", f"{ray_wall:.1f} s"),
            ("job wall time, fork runner (2 workers)", f"{fork_wall:.1f} s"),
            ("median run, claim to finish, Ray", f"{median(ray_runs):.2f} s"),
            ("median run, claim to finish, fork", f"{median(fork_runs):.2f} s"),
            ("median added time per run, Ray minus fork", f"{overhead:.2f} s"),
            ("same bits on both (weights checksum per seed)", str(ray_sums == fork_sums)),
        ],
    )


if __name__ == "__main__":
    main()

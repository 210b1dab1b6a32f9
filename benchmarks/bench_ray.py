"""The 10-run reference job (seed_card_mlp, 42:5x2, full) on Ray vs the local fork runner.

Usage (as root: the Ray cluster runs in a loopback-only network namespace):
    python benchmarks/bench_ray.py [--rounds 3]
Both executors get two run slots on this machine: a two-node Ray cluster with one CPU per node,
and two local agents whose zygotes are warm. Per run, the time from claim to finish is read from
the server; the time Ray adds per run is the difference of the medians. Both systems stay up
and their jobs alternate, round after round, so that load from elsewhere falls on both alike.
A warm Ray worker forks each run from the zygote it keeps, as a local agent does; what remains
is Ray's own scheduling, the streamed events and the code bundle's check. Without root it says
why and exits 0 (`make bench` runs it as one of the benchmarks).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

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


def main() -> None:
    """Measure both executors side by side, alternating jobs, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="jobs on each executor, alternated")
    args = parser.parse_args()
    reason = ray_unavailable()
    if reason is not None:
        print(f"bench_ray skipped: {reason}")
        return
    cluster = RayCluster(head_cpus=1, node_cpus=1).start()
    ray_dir, fork_dir = tempfile.TemporaryDirectory(), tempfile.TemporaryDirectory()
    on_ray = LiveSystem(Path(ray_dir.name), lease_seconds=60)
    forked = LiveSystem(Path(fork_dir.name), lease_seconds=60)
    agent: int | None = None
    ray_runs: list[float] = []
    fork_runs: list[float] = []
    walls: dict[str, list[float]] = {"ray": [], "fork": []}
    rounds: list[float] = []
    sums: dict[str, dict[int, set[str]]] = {"ray": {}, "fork": {}}
    try:
        # Both systems stay up and their jobs alternate, so load from elsewhere on the machine
        # falls on both alike; each warms up first (a node's first run imports TensorFlow).
        on_ray.start_server()
        cluster.server_port = on_ray.port
        env = {"SEEDLAB_AGENT_TOKEN": TOKEN, "SEEDLAB_DATA_DIR": str(on_ray.data_dir)}
        agent = cluster.start_agent("bench-ray", env=env, log=on_ray.data_dir / "a.log")
        forked.start_server()
        forked.start_agent("bench-local", "--concurrency", "2")
        _warm_up(on_ray)
        _warm_up(forked)
        for _ in range(args.rounds):
            medians = []
            for name, live, runs in (("ray", on_ray, ray_runs), ("fork", forked, fork_runs)):
                wall, seconds, by_seed = _job(live)
                walls[name].append(wall)
                runs.extend(seconds)
                medians.append(median(seconds))
                for seed, checksums in by_seed.items():
                    sums[name].setdefault(seed, set()).update(checksums)
            rounds.append(medians[0] - medians[1])
    finally:
        if agent is not None:
            cluster.stop_process(agent)
        on_ray.stop()
        forked.stop()
        cluster.stop()
        ray_dir.cleanup()
        fork_dir.cleanup()
    overhead = median(ray_runs) - median(fork_runs)
    report(
        f"10-run reference job ({SEEDS}, full) x {args.rounds}, alternated: Ray executor vs "
        f"local fork runner, 2 slots each ({datetime.now().date().isoformat()})",
        [
            ("median job wall time, Ray (2 nodes x 1 CPU)", f"{median(walls['ray']):.1f} s"),
            ("median job wall time, fork runner (2 workers)", f"{median(walls['fork']):.1f} s"),
            ("median run, claim to finish, Ray", f"{median(ray_runs):.2f} s"),
            ("median run, claim to finish, fork", f"{median(fork_runs):.2f} s"),
            ("median added time per run, Ray minus fork", f"{overhead:.2f} s"),
            ("the same per round", ", ".join(f"{d:.2f} s" for d in rounds)),
            ("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"),
            ("same bits on both (weights checksum per seed)", str(sums["ray"] == sums["fork"])),
            ("one checksum per seed on each", str(_one_each(sums))),
        ],
    )


def _one_each(sums: dict[str, dict[int, set[str]]]) -> bool:
    return all(len(checksums) == 1 for by_seed in sums.values() for checksums in by_seed.values())


if __name__ == "__main__":
    main()

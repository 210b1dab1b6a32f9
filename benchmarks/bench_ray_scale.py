"""Scale figure: one N-run job (seed_card_mlp, full) on a Ray cluster vs two local agents.

Usage (as root: the Ray cluster runs in a loopback-only network namespace):
    python benchmarks/bench_ray_scale.py [--runs 200] [--nodes 4]
First a Ray agent on a cluster of `--nodes` nodes with one CPU each runs the job (seeds
`1:N`, one run per seed), then the same job runs on two local agents (one run slot each, warm
`full` zygotes); the Ray cluster is stopped before the local agents start, so the two never
share the machine. Each side first runs a small warm-up job (one run per slot, seeds of their
own), so that no node's or agent's first TensorFlow import falls inside the timing.

For each side it prints the job's wall time (submit to final status), runs per minute, the
median and p90 run time from claim to finish (read from the server), and the per-run overhead:
the median run minus the median in-process training time (steady seconds per epoch times
epochs, as the run reports it, so the first epoch's graph tracing counts as overhead), and
Ray's median run minus the local one. Nothing lost means: every run succeeded on its first
attempt and every seed has exactly one succeeded run. Same seed and profile must give the same
weights on both executors: it counts the seeds whose checksums match bit for bit. It exits 1
when a run was lost or a checksum differs. Without root it says why and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem
from tests.raycluster import RAY_PORT, RayCluster, ray_unavailable

EXPERIMENT = "seed_card_mlp"
PROFILE = "full"
WARM_BASE = 1_000_000  # warm-up seeds, apart from the measured 1..N
DONE = ("succeeded", "failed", "cancelled")


@dataclass
class Side:
    """What one executor's job gave."""

    name: str
    wall: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    def seconds(self) -> list[float]:
        """Claim to finish of every run that has both."""
        return [
            _seconds(r["started_at"], r["finished_at"])
            for r in self.runs
            if r["started_at"] and r["finished_at"]
        ]

    def trained(self) -> list[float]:
        """In-process training seconds (steady seconds per epoch x epochs) where reported."""
        return [
            r["seconds_per_epoch"] * (r["epochs"] or r["epoch"])
            for r in self.runs
            if r["seconds_per_epoch"] is not None and (r["epochs"] or r["epoch"])
        ]

    def timed(self) -> list[float]:
        """The agent's own timing of each run, from starting its process to its exit."""
        return [r["seconds"] for r in self.runs if r["seconds"] is not None]

    def span(self) -> float:
        """First claim to last finish, from the server's timestamps."""
        starts = [r["started_at"] for r in self.runs if r["started_at"]]
        ends = [r["finished_at"] for r in self.runs if r["finished_at"]]
        return _seconds(min(starts), max(ends)) if starts and ends else float("nan")

    def lost(self) -> int:
        """Runs that did not succeed on their first attempt."""
        return sum(1 for r in self.runs if r["status"] != "succeeded" or r["attempt"] > 1)

    def checksums(self) -> dict[int, list[str]]:
        """Weights checksum of each succeeded run, by seed."""
        sums: dict[int, list[str]] = {}
        for run in self.runs:
            if run["status"] == "succeeded":
                sums.setdefault(run["seed"], []).append(run["weights_checksum"])
        return sums


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _wait(http: httpx.Client, job_id: int, deadline: float, poll: float) -> bool:
    """Until the job reaches a final status (True) or the deadline passes (False)."""
    while time.monotonic() < deadline:
        if http.get(f"/api/v1/jobs/{job_id}").json()["status"] in DONE:
            return True
        time.sleep(poll)
    return False


def _submit(http: httpx.Client, seeds: str) -> int:
    response = http.post(
        "/api/v1/jobs", json={"experiment": EXPERIMENT, "seeds": seeds, "profile": PROFILE}
    )
    response.raise_for_status()
    return int(response.json()["id"])


def _warm_up(live: LiveSystem, slots: int, timeout: float) -> None:
    """One run per slot first (all at once, so each node or agent gets one); must succeed."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        job_id = _submit(http, f"{WARM_BASE}:{slots}")
        if not _wait(http, job_id, time.monotonic() + timeout, 0.5):
            raise RuntimeError(f"warm-up job did not finish within {timeout:.0f} s")
        status = http.get(f"/api/v1/jobs/{job_id}").json()["status"]
        if status != "succeeded":
            raise RuntimeError(f"warm-up job {status}: {live.logs()[-4000:]}")


def _job(live: LiveSystem, side: Side, runs: int, timeout: float) -> None:
    """Submit the measured job, wait for it, and read every run."""
    with httpx.Client(base_url=live.url, timeout=60) as http:
        started = time.perf_counter()
        job_id = _submit(http, f"1:{runs}x1")
        side.finished = _wait(http, job_id, time.monotonic() + timeout, 0.5)
        side.wall = time.perf_counter() - started
        side.runs = [
            http.get(f"/api/v1/runs/{r['id']}").json()
            for r in http.get(f"/api/v1/jobs/{job_id}/runs").json()
        ]


def _on_ray(args: argparse.Namespace, side: Side) -> None:
    """The job on a Ray agent attached to a cluster of `--nodes` one-CPU nodes."""
    cluster = RayCluster(head_cpus=1, node_cpus=1).start()  # the head and a second node
    work = tempfile.TemporaryDirectory()
    live = LiveSystem(Path(work.name), lease_seconds=60)
    agent: int | None = None
    try:
        ray = str(Path(sys.executable).with_name("ray"))
        for index in range(2, args.nodes):
            argv = [
                ray, "start", f"--address=127.0.0.1:{RAY_PORT}", "--node-ip-address=127.0.0.1",
                "--num-cpus=1", "--disable-usage-stats", "--block",
            ]  # fmt: skip
            log = str(cluster.work / f"node{index}.log")
            cluster.command(cmd="run", argv=argv, env={}, log=log, cwd=str(cluster.work))
        cluster.command(cmd="cpus", cpus=args.nodes)  # until every node has joined
        live.start_server()
        cluster.server_port = live.port
        env = {"SEEDLAB_AGENT_TOKEN": TOKEN, "SEEDLAB_DATA_DIR": str(live.data_dir)}
        agent = cluster.start_agent("bench-ray", env=env, log=live.data_dir / "agent-ray.log")
        _warm_up(live, args.nodes, args.timeout)
        _job(live, side, args.runs, args.timeout)
    finally:
        if agent is not None:
            cluster.stop_process(agent)
        live.stop()
        cluster.stop()
        work.cleanup()


def _local(args: argparse.Namespace, side: Side) -> None:
    """The same job on two local agents, one run slot each."""
    work = tempfile.TemporaryDirectory()
    live = LiveSystem(Path(work.name), lease_seconds=60)
    try:
        live.start_server()
        live.start_agent("bench-local-1")
        live.start_agent("bench-local-2")
        _warm_up(live, 2, args.timeout)
        _job(live, side, args.runs, args.timeout)
    finally:
        live.stop()
        work.cleanup()


def _rows(side: Side, label: str) -> list[tuple[str, str]]:
    seconds, trained = side.seconds(), side.trained()
    done = sum(1 for r in side.runs if r["status"] == "succeeded")
    rate = done / side.wall * 60 if side.wall else float("nan")
    one_each = sum(1 for sums in side.checksums().values() if len(sums) == 1)
    rows = [
        (f"{label}: job wall time, submit to final status", f"{side.wall:.1f} s"),
        (f"{label}: first claim to last finish", f"{side.span():.1f} s"),
        (f"{label}: runs per minute (succeeded / wall time)", f"{rate:.1f}"),
    ]
    if seconds:
        rows.append(
            (
                f"{label}: run, claim to finish",
                f"median {median(seconds):.2f} s, p90 {_p90(seconds):.2f} s",
            )
        )
    if side.timed():
        rows.append(
            (
                f"{label}: run as the agent timed it, start to exit",
                f"median {median(side.timed()):.2f} s",
            )
        )
    if seconds and trained:
        rows.append(
            (
                f"{label}: in-process training (steady s/epoch x epochs)",
                f"median {median(trained):.2f} s",
            )
        )
        rows.append(
            (
                f"{label}: per-run overhead, median run minus median training",
                f"{median(seconds) - median(trained):.2f} s",
            )
        )
    rows.append(
        (
            f"{label}: runs succeeded / lost (not succeeded, or attempt > 1)",
            f"{done} / {side.lost()}" + ("" if side.finished else " (job did not finish)"),
        )
    )
    rows.append((f"{label}: seeds with exactly one succeeded run", f"{one_each}"))
    return rows


def main() -> None:
    """Run the job on each executor in turn and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="runs in the job (seeds 1:N)")
    parser.add_argument("--nodes", type=int, default=4, help="Ray nodes, one CPU each (>= 2)")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds each job (and warm-up) may take"
    )
    args = parser.parse_args()
    if args.nodes < 2:
        parser.error("--nodes must be at least 2 (the head and a second node)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    reason = ray_unavailable()
    if reason is not None:
        print(f"bench_ray_scale skipped: {reason}")
        return
    started = time.perf_counter()
    ray_side, local_side = Side("ray"), Side("local")
    _on_ray(args, ray_side)
    _local(args, local_side)
    ray_sums, local_sums = ray_side.checksums(), local_side.checksums()
    same = sum(
        1
        for seed in range(1, args.runs + 1)
        if len(ray_sums.get(seed, [])) == 1
        and ray_sums[seed][0] is not None
        and ray_sums[seed] == local_sums.get(seed)
    )
    rows = [
        *_rows(ray_side, "Ray"),
        *_rows(local_side, "local"),
    ]
    ray_seconds, local_seconds = ray_side.seconds(), local_side.seconds()
    if ray_seconds and local_seconds:
        rows.append(
            (
                "median run, Ray minus local",
                f"{median(ray_seconds) - median(local_seconds):.2f} s",
            )
        )
    rows += [
        ("seeds with the same weights checksum on both", f"{same} / {args.runs}"),
        ("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"),
        ("benchmark wall time, cluster start to the end", f"{time.perf_counter() - started:.0f} s"),
    ]
    report(
        f"{args.runs}-run job ({EXPERIMENT}, 1:{args.runs}x1, {PROFILE}): Ray on {args.nodes} "
        f"nodes x 1 CPU vs two local agents x 1 slot ({datetime.now().date().isoformat()})",
        rows,
    )
    complete = all(
        side.finished
        and side.lost() == 0
        and len(side.runs) == args.runs
        and all(len(side.checksums().get(seed, [])) == 1 for seed in range(1, args.runs + 1))
        for side in (ray_side, local_side)
    )
    if not complete or same != args.runs:
        print("bench_ray_scale: runs lost or checksums differ (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()

"""A 10-run job (reference MLP, 42:5x2, full) through seedlab vs a loop of 10 cold processes.

Usage: python benchmarks/bench_job_vs_cold.py [--agents 2]
Target: the seedlab job takes at most 0.2x the cold loop's wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import REPO, report
from tests.livesystem import LiveSystem


def cold_loop(seeds: list[int]) -> float:
    """Wall time of one cold python process per run, one after another."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    for seed in seeds:
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "reference_mlp.py"), str(seed)],
            env=env,
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def seedlab_job(agents: int, *, warm: bool) -> tuple[float, str]:
    """Wall time from submit to final report of a 42:5x2 full job, via the REST API."""
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), lease_seconds=60)
        try:
            live.start_server()
            for index in range(agents):
                # Cold: the first run starts each zygote (agents would otherwise warm at once).
                live.start_agent(f"bench-{index}", *(() if warm else ("--warm", "")))
            with httpx.Client(base_url=live.url, timeout=60) as http:
                if warm:  # let every agent start its zygote before timing
                    job = http.post(
                        "/api/v1/jobs",
                        json={"experiment": "seed_card_mlp", "seeds": f"1:{agents}x1"},
                    ).json()
                    _wait(http, job["id"])
                started = time.perf_counter()
                job = http.post(
                    "/api/v1/jobs",
                    json={"experiment": "seed_card_mlp", "seeds": "42:5x2", "profile": "full"},
                ).json()
                final = _wait(http, job["id"])
                elapsed = time.perf_counter() - started
        finally:
            live.stop()
    return elapsed, f"{final['status']}, verdict {final['verdict']}"


def _wait(http: httpx.Client, job_id: int) -> dict:  # type: ignore[type-arg]
    while True:
        report_ = http.get(f"/api/v1/jobs/{job_id}/report").json()
        if report_["status"] in ("succeeded", "failed", "cancelled"):
            return report_  # type: ignore[no-any-return]
        time.sleep(0.05)


def main() -> None:
    """Measure both, in this one run, and print the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    cold = cold_loop([42, 43, 44, 45, 46, 42, 43, 44, 45, 46])
    job_cold_start, outcome = seedlab_job(args.agents, warm=False)
    job_warm, outcome_warm = seedlab_job(args.agents, warm=True)
    report(
        "10-run job (reference MLP, 42:5x2, full) vs 10 cold processes (target ratio <= 0.2)",
        [
            ("10 cold processes, one after another", f"{cold:.1f} s"),
            (
                f"seedlab job, {args.agents} agents, zygotes cold",
                f"{job_cold_start:.1f} s ({outcome}); ratio {job_cold_start / cold:.2f}",
            ),
            (
                f"seedlab job, {args.agents} agents, zygotes warm",
                f"{job_warm:.1f} s ({outcome_warm}); ratio {job_warm / cold:.2f}",
            ),
        ],
    )


if __name__ == "__main__":
    main()

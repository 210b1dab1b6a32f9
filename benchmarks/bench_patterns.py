"""/api/v1/health while an agent-advertised catastrophic `pattern` is used by many submits.

Usage: python benchmarks/bench_patterns.py [--submits 200] [--clients 4]
Target: health answers in < 100 ms (max) while the submits run (issue 19, item 4): patterns run
on RE2 in linear time, so no submit holds the server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"code": {"type": "string", "pattern": r"^(a+)+$", "default": "aaa"}},
}


def submit(url: str, job: dict[str, Any], count: int, results: Any) -> None:
    """Post the job `count` times (one submitting client, its own process); the statuses."""
    with httpx.Client(base_url=url, timeout=600) as client:
        results.put([client.post("/api/v1/jobs/plan", json=job).status_code for _ in range(count)])


def sample_health(url: str, *, until: Callable[[], bool], count: int | None = None) -> list[float]:
    """Milliseconds of each /api/v1/health, every 10 ms, until `until()` (or `count` samples)."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=600) as client:
        while not latencies or not (until() or (count is not None and len(latencies) >= count)):
            begin = time.perf_counter()
            client.get("/api/v1/health").raise_for_status()
            latencies.append((time.perf_counter() - begin) * 1000)
            time.sleep(0.01)
    return latencies


def load_phase(
    url: str, value: str, *, submits: int, clients: int
) -> tuple[list[float], list[int], float]:
    """Health latencies (sorted), submit statuses and seconds while `clients` post `value`."""
    job = {"experiment": "coded", "params": {"code": value}, "seeds": "1:1x1"}
    # Submitters are processes, not threads: in one process their response parsing would hold
    # the GIL while the sampler waits, and count the client's wait as the server's.
    results: multiprocessing.Queue[list[int]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=submit, args=(url, job, submits // clients, results))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    latencies = sample_health(url, until=lambda: not any(w.is_alive() for w in workers))
    statuses = [status for _ in workers for status in results.get()]
    for worker in workers:
        worker.join()
    return sorted(latencies), statuses, time.perf_counter() - started


def main() -> None:
    """Register the schema, fire the submits, sample health meanwhile, print the figures.

    The same submits with a value the pattern matches at once are the control: whatever health
    latency they cause too comes from the load, not from the pattern.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4, help="submitting processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        system = LiveSystem(Path(tmp))
        system.start_server()
        try:
            agent = {"Authorization": f"Bearer {TOKEN}"}
            registered = httpx.post(
                f"{system.url}/api/v1/agent/register",
                headers=agent,
                json={
                    "name": "bench",
                    "hostname": "h",
                    "experiments": [
                        {
                            "name": "coded",
                            "version": "v1",
                            "description": "d",
                            "params_schema": SCHEMA,
                            "defaults": {},
                            "source": "bench",
                        }
                    ],
                    "sources": [{"source": "bench", "ok": True, "experiments": ["coded"]}],
                },
            )
            registered.raise_for_status()
            idle = sorted(sample_health(system.url, until=lambda: False, count=30))
            phases = {
                "catastrophic": load_phase(
                    system.url, "a" * 5000 + "!", submits=args.submits, clients=args.clients
                ),
                "control": load_phase(
                    system.url, "aaa", submits=args.submits, clients=args.clients
                ),
            }
        finally:
            system.stop()
    rows = [("health idle median", f"{median(idle):.1f} ms (no submits)")]
    for name, (latencies, statuses, elapsed) in phases.items():
        codes = ", ".join(f"{statuses.count(c)} x {c}" for c in sorted(set(statuses)))
        rows += [
            (
                f"{name} submits",
                f"{len(statuses)} from {args.clients} clients in {elapsed:.2f} s ({codes})",
            ),
            (
                f"{name} health",
                f"median {median(latencies):.1f} ms, "
                f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms, "
                f"max {latencies[-1]:.1f} ms over {len(latencies)} samples",
            ),
        ]
    report(
        "health while submits use a catastrophic pattern (^(a+)+$ on 'a'*5000+'!') and, as "
        "the control, a value it matches at once (target: max < 100 ms)",
        rows,
    )


if __name__ == "__main__":
    main()

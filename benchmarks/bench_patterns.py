"""/api/v1/health while an agent-advertised catastrophic `pattern` is used by many submits.

Usage: python benchmarks/bench_patterns.py [--submits 200] [--threads 4]
Target: health answers in < 100 ms (max) while the submits run (issue 19, item 4): patterns run
on RE2 in linear time, so no submit holds the server.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"code": {"type": "string", "pattern": r"^(a+)+$", "default": "aaa"}},
}


def main() -> None:
    """Register the schema, fire the submits, sample health meanwhile, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        system = LiveSystem(Path(tmp))
        system.start_server()
        try:
            agent = {"Authorization": f"Bearer {TOKEN}"}
            registered = httpx.post(f"{system.url}/api/v1/agent/register", headers=agent, json={
                "name": "bench", "hostname": "h",
                "experiments": [{"name": "coded", "version": "v1", "description": "d",
                                 "params_schema": SCHEMA, "defaults": {}, "source": "bench"}],
                "sources": [{"source": "bench", "ok": True, "experiments": ["coded"]}],
            })
            registered.raise_for_status()
            job = {"experiment": "coded", "params": {"code": "a" * 5000 + "!"}, "seeds": "1:1x1"}
            statuses: list[int] = []

            def submit(count: int) -> None:
                with httpx.Client(base_url=system.url, timeout=600) as client:
                    for _ in range(count):
                        statuses.append(client.post("/api/v1/jobs/plan", json=job).status_code)

            workers = [
                threading.Thread(target=submit, args=(args.submits // args.threads,))
                for _ in range(args.threads)
            ]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            latencies: list[float] = []
            with httpx.Client(base_url=system.url, timeout=600) as client:
                while any(w.is_alive() for w in workers) or not latencies:
                    begin = time.perf_counter()
                    client.get("/api/v1/health").raise_for_status()
                    latencies.append((time.perf_counter() - begin) * 1000)
                    time.sleep(0.01)
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
        finally:
            system.stop()
    latencies.sort()
    report(
        "health while catastrophic-pattern submits run (target: max < 100 ms)",
        [
            ("submits (all 422)", f"{len(statuses)} in {elapsed:.2f} s, "
             f"{sum(s == 422 for s in statuses)} answered 422"),
            ("health samples", str(len(latencies))),
            ("health median", f"{median(latencies):.1f} ms"),
            ("health p99", f"{latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms"),
            ("health max", f"{latencies[-1]:.1f} ms"),
        ],
    )


if __name__ == "__main__":
    main()

"""The CLI's own costs: start time, and how soon `submit --wait` learns that a job ended.

Usage: python benchmarks/bench_cli.py [--repeat 7]
Targets: `seedlab --help` and `seedlab submit` up to its first request under 0.5 s (median);
the long poll (GET /api/v1/jobs/{id}/wait) answers within 100 ms of the job's end (median).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem, free_port

CLI = [sys.executable, "-m", "seedlab.cli"]


def _checked(response: httpx.Response, what: str) -> dict:  # type: ignore[type-arg]
    if response.status_code >= 400:
        raise SystemExit(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    if response.status_code == 204 or not response.content:
        return {}
    return response.json()  # type: ignore[no-any-return]


def help_seconds(args: list[str], repeat: int) -> float:
    """Median wall time of a CLI command that talks to nobody."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([*CLI, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return median(times)


class _FirstRequest(BaseHTTPRequestHandler):
    arrived: ClassVar[list[float]] = []

    def do_POST(self) -> None:
        _FirstRequest.arrived.append(time.perf_counter())
        body = json.dumps({"detail": "bench_cli: no server here"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def submit_seconds(repeat: int) -> float:
    """Median time from starting `seedlab submit` to its request reaching a server."""
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    times = []
    try:
        for _ in range(repeat):
            _FirstRequest.arrived.clear()
            started = time.perf_counter()
            done = subprocess.run(
                [
                    *CLI,
                    "submit",
                    "seed_card_mlp",
                    "--seeds",
                    "1:2x1",
                    "--server",
                    f"http://127.0.0.1:{port}",
                ],
                capture_output=True,
                text=True,
            )
            if not _FirstRequest.arrived:
                raise SystemExit(f"submit never reached the server: {done.stderr[-500:]}")
            times.append(_FirstRequest.arrived[0] - started)
    finally:
        server.shutdown()
    return median(times)


def wait_latencies(repeat: int) -> list[float]:
    """Per job: seconds from the server acknowledging its last run's end to /wait answering."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), lease_seconds=600)
        live.start_server()
        try:
            user = httpx.Client(base_url=live.url, timeout=60)
            agent_http = httpx.Client(
                base_url=live.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            agent = _checked(
                agent_http.post("/api/v1/agent/register", json={"name": "bench", "hostname": "b"}),
                "register",
            )
            for _ in range(repeat):
                job = _checked(
                    user.post(
                        "/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:1x1"}
                    ),
                    "create job",
                )
                claim = _checked(
                    agent_http.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}),
                    "claim",
                )
                answered: list[float] = []

                def wait(job_id: int = job["id"], answered: list[float] = answered) -> None:
                    body = _checked(
                        httpx.get(f"{live.url}/api/v1/jobs/{job_id}/wait?timeout=30", timeout=60),
                        "wait",
                    )
                    answered.append(time.perf_counter())
                    assert body["status"] == "succeeded", body

                waiter = threading.Thread(target=wait)
                waiter.start()
                time.sleep(0.5)  # the long poll is waiting now
                _checked(
                    agent_http.post(
                        f"/api/v1/agent/runs/{claim['run_id']}/finish",
                        json={
                            "attempt": claim["attempt"],
                            "status": "succeeded",
                            "final_metrics": {"loss": 0.5},
                        },
                    ),
                    "finish",
                )
                finished = time.perf_counter()
                waiter.join(timeout=60)
                if not answered:
                    raise SystemExit("the long poll did not answer")
                out.append(max(0.0, answered[0] - finished))
        finally:
            live.stop()
    return out


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.pop("SEEDLAB_TOKEN", None)
    latencies = wait_latencies(args.repeat)
    rows = [
        ("seedlab --help", f"median {help_seconds(['--help'], args.repeat) * 1000:.0f} ms"),
        (
            "seedlab submit --help",
            f"median {help_seconds(['submit', '--help'], args.repeat) * 1000:.0f} ms",
        ),
        (
            "seedlab submit, start to first request",
            f"median {submit_seconds(args.repeat) * 1000:.0f} ms",
        ),
        (
            "job end to the long poll's answer (after the finish call returns)",
            f"median {median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms",
        ),
    ]
    report("CLI start and wait (targets: start < 500 ms, wait < 100 ms)", rows)


if __name__ == "__main__":
    main()

"""Metric ingestion through the batch endpoint: 4 concurrent senders, SQLite and PostgreSQL.

Usage: python benchmarks/bench_ingest.py [--pg URL] [--points 400000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from common import median, report
from tests.livesystem import TOKEN, LiveSystem

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _checked(response: httpx.Response, what: str) -> dict:  # type: ignore[type-arg]
    """The answer's JSON; a failed call stops the benchmark with the server's answer."""
    if response.status_code >= 400:
        raise SystemExit(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    if response.status_code == 204:  # a claim with nothing queued
        return {}
    return response.json()  # type: ignore[no-any-return]


def _prepare_runs(url: str, senders: int) -> list[tuple[int, int]]:
    """Create a job and claim one run per sender so each sender owns a running attempt."""
    # The agent token may only call the agent protocol: the job is submitted as the local user
    # (tokenless on loopback), the agent calls carry the agent token.
    with httpx.Client(base_url=url, timeout=60) as user:
        job = _checked(
            user.post(
                "/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": f"1:{senders}x1"}
            ),
            "create the job",
        )
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as http:
        agent = _checked(
            http.post("/api/v1/agent/register", json={"name": "bench", "hostname": "b"}),
            "register the agent",
        )
        runs = []
        for _ in range(senders):
            claim = _checked(
                http.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}), "claim a run"
            )
            if claim.get("run_id") is None:
                raise SystemExit(f"claim a run of job {job['id']}: nothing to claim ({claim})")
            runs.append((claim["run_id"], claim["attempt"]))
        return runs


def _send(url: str, run_id: int, attempt: int, total: int, batch: int, out: list[float]) -> None:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as http:
        step = 0
        while step < total:
            steps = list(range(step, min(step + batch, total)))
            series = [{"key": "loss", "steps": steps, "values": [1.0 / (s + 1) for s in steps]}]
            started = time.perf_counter()
            response = http.post(
                f"/api/v1/agent/runs/{run_id}/points", json={"attempt": attempt, "series": series}
            )
            _checked(response, f"send points of run {run_id}")
            out.append(time.perf_counter() - started)
            step += batch


def measure(database_url: str | None, *, points: int, batch: int, senders: int) -> list[str]:
    """Points per second over all senders, and the median batch latency."""
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), database_url=database_url, lease_seconds=3600)
        try:
            live.start_server()
            runs = _prepare_runs(live.url, senders)
            latencies: list[float] = []
            per_sender = points // senders
            threads = [
                threading.Thread(target=_send, args=(live.url, r, a, per_sender, batch, latencies))
                for r, a in runs
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            live.stop()
    rate = per_sender * senders / elapsed
    return [f"{rate:,.0f} points/s", f"median batch of {batch}: {median(latencies) * 1000:.1f} ms"]


def main() -> None:
    """Run the benchmark on SQLite, and PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = []
    sqlite = measure(None, points=args.points, batch=args.batch, senders=args.senders)
    rows.append((f"SQLite, {args.senders} senders", " | ".join(sqlite)))
    if args.pg:
        import psycopg

        name = f"seedlab_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            pg = measure(
                args.pg.rsplit("/", 1)[0] + f"/{name}",
                points=args.points,
                batch=args.batch,
                senders=args.senders,
            )
            rows.append((f"PostgreSQL, {args.senders} senders", " | ".join(pg)))
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report("metric ingestion (target: >= 100,000 points/s on SQLite)", rows)


if __name__ == "__main__":
    main()

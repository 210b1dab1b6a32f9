"""Reads on a large database: jobs list, overlay of a 100-run job, server memory.

Usage: python benchmarks/bench_reads.py [--jobs 10000] [--runs-per-job 10]
Targets: jobs list first page median < 100 ms; overlay (100 runs x 3 metrics x 1,000 epochs)
median < 150 ms; server RSS < 250 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import median, report
from sqlalchemy import insert, select
from tests.livesystem import LiveSystem

from seedlab.db import Database
from seedlab.experiments import service as experiments_service
from seedlab.jobs.models import Job
from seedlab.migrate import upgrade_to_head
from seedlab.profiles import resolve_profile
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import MetricPoint, Run

PROFILE = resolve_profile("full").model_dump()


def _job_row(job_id: int, runs: int, now: datetime) -> dict:  # type: ignore[type-arg]
    return {
        "id": job_id,
        "experiment_name": "seed_card_mlp",
        "experiment_version": "1",
        "params": {"epochs": 2},
        "seed_plan": {"seeds": list(range(42, 42 + runs)), "repeats": 1},
        "seed_plan_text": f"42:{runs}x1",
        "profile": PROFILE,
        "profile_name": "full",
        "status": "succeeded",
        "run_count": runs,
        "cancel_requested": False,
        "created_at": now,
        "started_at": now,
        "finished_at": now,
    }


def _big_run(run_id: int, job_id: int, k: int, now: datetime) -> dict:  # type: ignore[type-arg]
    return {
        "id": run_id,
        "job_id": job_id,
        "seed": 42 + k,
        "repeat": 0,
        "status": "succeeded",
        "attempt": 1,
        "max_attempts": 3,
        "cancel_requested": False,
        "queued_at": now,
        "final_metrics": {"loss": 0.1, "val_loss": 0.2, "val_auc": 0.9},
        "weights_checksum": "1" * 64,
        "epoch_checksums": ["1" * 64] * 1000,
    }


def populate(db: Database, jobs: int, runs_per_job: int) -> int:
    """Insert many small finished jobs and two big jobs with long curves; returns the first id.

    The first big job has packed curves (run_curve), the second only metric points.
    """
    now = datetime.now(UTC)
    with db.write() as session:
        experiments_service.sync_catalog(session=session)
    run_id = 0
    with db.engine.begin() as conn:
        for start in range(1, jobs + 1, 1000):
            ids = range(start, min(start + 1000, jobs + 1))
            conn.execute(insert(Job), [_job_row(j, runs_per_job, now) for j in ids])
            rows = []
            for job_id in ids:
                for k in range(runs_per_job):
                    run_id += 1
                    rows.append(
                        {
                            "id": run_id,
                            "job_id": job_id,
                            "seed": 42 + k,
                            "repeat": 0,
                            "status": "succeeded",
                            "attempt": 1,
                            "max_attempts": 3,
                            "cancel_requested": False,
                            "queued_at": now,
                            "final_metrics": {"loss": 0.5, "val_loss": 0.6},
                            "weights_checksum": "0" * 64,
                        }
                    )
            conn.execute(insert(Run), rows)
        big = jobs + 1
        for job_id in (big, big + 1):
            conn.execute(insert(Job), [_job_row(job_id, 100, now)])
            for k in range(100):
                run_id += 1
                conn.execute(insert(Run), [_big_run(run_id, job_id, k, now)])
                conn.execute(
                    insert(MetricPoint),
                    [
                        {
                            "run_id": run_id,
                            "attempt": 1,
                            "key": key,
                            "step": step,
                            "value": base + 1.0 / step + k * 1e-4,
                        }
                        for key, base in (("loss", 0.0), ("val_loss", 0.1), ("val_auc", 0.5))
                        for step in range(1, 1001)
                    ],
                )
    # The big job's runs get their packed curves as finish_run stores them; the second copy
    # keeps only points, like runs finished before migration 0004.
    with db.write() as session:
        for run in session.scalars(select(Run).where(Run.job_id == big)):
            runs_repository.store_curves(session=session, run=run)
    return big


def first_and_median(http: httpx.Client, path: str, repeat: int) -> str:
    """The first (uncached) call's time and the median of the following ones, in ms."""
    started = time.perf_counter()
    http.get(path).raise_for_status()
    first = (time.perf_counter() - started) * 1000
    return f"first {first:.1f} ms, then median {timed(http, path, repeat):.1f} ms"


def uncached(http: httpx.Client, path: str, repeat: int) -> float:
    """Median wall time in ms of GET path, each call missing the overlay cache.

    Finished overlays are cached per (job, metric, band, max_points), so each call asks for a
    different max_points (500, 501, ...): every figure is built from the database.
    """
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        http.get(f"{path}&max_points={500 + i}").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def timed(http: httpx.Client, path: str, repeat: int) -> float:
    """Median wall time in ms of GET path over loopback (the first call is a warm-up)."""
    http.get(path).raise_for_status()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        http.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    """Populate, serve, measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs-per-job", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'seedlab.db'}")
        upgrade_to_head(db.engine)
        started = time.perf_counter()
        big = populate(db, args.jobs, args.runs_per_job)
        fill = time.perf_counter() - started
        db.dispose()
        live = LiveSystem(Path(tmp))
        try:
            live.start_server()
            assert live.server is not None
            overlay_path = f"/api/v1/jobs/{big}/overlay?metric=val_loss"
            with httpx.Client(base_url=live.url, timeout=120) as http:
                rows = [
                    (
                        "database",
                        f"{args.jobs + 2:,} jobs, {args.jobs * args.runs_per_job + 200:,}"
                        f" runs, 600,000 metric points (filled in {fill:.1f} s)",
                    ),
                    (
                        "GET /api/v1/jobs (first page of 50)",
                        f"median {timed(http, '/api/v1/jobs', args.repeat):.1f} ms",
                    ),
                    ("GET / (jobs page, HTML)", f"median {timed(http, '/', args.repeat):.1f} ms"),
                    (
                        f"GET /api/v1/jobs/{big}/overlay (100 runs x 1,000 epochs)",
                        first_and_median(http, overlay_path, args.repeat),
                    ),
                    (
                        f"GET /api/v1/jobs/{big + 1}/overlay (same, runs without packed curves)",
                        first_and_median(
                            http, f"/api/v1/jobs/{big + 1}/overlay?metric=val_loss", args.repeat
                        ),
                    ),
                    (
                        f"GET /api/v1/jobs/{big}/report (all 300,000 points)",
                        f"median {timed(http, f'/api/v1/jobs/{big}/report', 5):.1f} ms",
                    ),
                ]
                rss, peak = rss_mb(live.server.pid)
                rows.append(("server memory", f"RSS {rss:.0f} MB, peak {peak:.0f} MB"))
                # After the memory figure: these builds fill the overlay cache with 20 figures.
                rows.append(
                    (
                        f"GET /api/v1/jobs/{big}/overlay, uncached each time",
                        f"median {uncached(http, overlay_path, args.repeat):.1f} ms",
                    )
                )
        finally:
            live.stop()
    report("reads on a large SQLite database (client wall time over loopback)", rows)


if __name__ == "__main__":
    main()

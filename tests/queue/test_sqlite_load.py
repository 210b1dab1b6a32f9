"""SQLite under load: eight agents ingest points at once into one live server process; nobody
ever sees "database is locked" (every call answers 2xx, every point is stored once)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import httpx

from tests.livesystem import TOKEN, LiveSystem

AGENTS = 8
BATCHES = 40
POINTS_PER_BATCH = 250


def ingest(url: str, start: Any) -> list[str]:
    """Register, claim one run, post batches of points, finish; the problems met."""
    problems: list[str] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=120) as http:
        agent = http.post("/api/v1/agent/register", json={"name": "load", "hostname": "h"})
        start.wait()
        claim = http.post("/api/v1/agent/claim", json={"agent_id": agent.json()["id"]}).json()
        run, attempt = claim["run_id"], claim["attempt"]
        for batch in range(BATCHES):
            first = batch * POINTS_PER_BATCH + 1
            steps = list(range(first, first + POINTS_PER_BATCH))
            series = [{"key": key, "steps": steps, "values": [s / 7 for s in steps]}
                      for key in ("loss", "val_loss")]
            reply = http.post(f"/api/v1/agent/runs/{run}/points",
                              json={"attempt": attempt, "series": series, "epoch": batch})
            if reply.status_code != 200:
                problems.append(f"points {reply.status_code}: {reply.text[:200]}")
            beat = http.post(f"/api/v1/agent/runs/{run}/heartbeat", json={"attempt": attempt})
            if beat.status_code != 200:
                problems.append(f"heartbeat {beat.status_code}: {beat.text[:200]}")
        done = http.post(f"/api/v1/agent/runs/{run}/finish",
                         json={"attempt": attempt, "status": "succeeded",
                               "final_metrics": {"val_auc": 0.5}})
        if done.status_code != 204:
            problems.append(f"finish {done.status_code}: {done.text[:200]}")
    return problems


def test_eight_agents_ingesting_at_once_on_sqlite(tmp_path: Path) -> None:
    live = LiveSystem(tmp_path)
    try:
        live.start_server()
        job = httpx.post(f"{live.url}/api/v1/jobs", json={
            "experiment": "seed_card_mlp", "seeds": f"1:{AGENTS}x1"}).json()
        context = multiprocessing.get_context("spawn")
        start = context.Manager().Event()
        with context.Pool(AGENTS) as pool:
            pending = [pool.apply_async(ingest, (live.url, start)) for _ in range(AGENTS)]
            start.set()
            problems = [p for result in pending for p in result.get(timeout=600)]
        assert problems == [], problems
        report = httpx.get(f"{live.url}/api/v1/jobs/{job['id']}/report").json()
        assert report["status"] == "succeeded"
        for run in report["runs"]:
            metrics = httpx.get(f"{live.url}/api/v1/runs/{run['id']}/metrics",
                                params={"max_points": 100_000}).json()
            for series in metrics["series"]:
                steps = [p[0] for p in series["points"]]
                assert steps == list(range(1, BATCHES * POINTS_PER_BATCH + 1))
        log = live.logs()
        assert "database is locked" not in log and "Traceback" not in log, log
    finally:
        live.stop()

"""The job page of big jobs: server time of the page and its live fragments, first chart drawn.

Usage: python benchmarks/bench_pages.py [--repeat 15]
Builds, in a fresh SQLite database, a 1,000-run job (500 seeds x 2 repeats, one epoch each, ten
seeds differing) and a 100-run job (50 seeds x 2 repeats, 20 epochs), as finished runs with
packed curves, then serves them from a real uvicorn server.
Targets: GET /jobs/{id} of the 1,000-run job, median < 200 ms (server time); first chart drawn
in Chromium < 1 s; the 100-run job page < 300 ms to the verdict (server time) with Plotly.js
cached. Figures are printed, never asserted.
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
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
METRICS = (("loss", 0.3), ("val_loss", 0.4), ("val_auc", 0.9))
# Records when the first Plotly chart of the page has drawn its SVG (performance.now(), ms from
# the start of navigation).
FIRST_CHART = """
window.__firstChart = null;
new MutationObserver((changes, observer) => {
  if (document.querySelector('.js-plotly-plot .main-svg')) {
    window.__firstChart = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def add_job(db: Database, *, seeds: int, repeats: int, epochs: int, differ_every: int) -> int:
    """A finished job of seeds x repeats runs with curves; every differ_every-th seed differs."""
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        job_id = conn.execute(
            insert(Job).returning(Job.id),
            [
                {
                    "experiment_name": "credit_risk_mlp",
                    "experiment_version": "1",
                    "params": {"epochs": epochs},
                    "seed_plan": {"seeds": list(range(seeds)), "repeats": repeats},
                    "seed_plan_text": f"0:{seeds}x{repeats}",
                    "profile": PROFILE,
                    "profile_name": "full",
                    "status": "succeeded",
                    "verdict": "nondeterministic",
                    "run_count": seeds * repeats,
                    "cancel_requested": False,
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                    "label": f"bench {seeds}x{repeats}",
                }
            ],
        ).scalar_one()
        runs, points = [], []
        run_id = conn.execute(select(Run.id).order_by(Run.id.desc()).limit(1)).scalar() or 0
        for repeat in range(repeats):
            for seed in range(seeds):
                run_id += 1
                jitter = 1e-7 * repeat if seed % differ_every == 0 else 0.0
                finals = {key: base + seed * 1e-4 + jitter for key, base in METRICS}
                checksum = f"{seed:064x}" if not jitter else f"{seed + 10**6:064x}"
                runs.append(
                    {
                        "id": run_id,
                        "job_id": job_id,
                        "seed": seed,
                        "repeat": repeat,
                        "status": "succeeded",
                        "attempt": 1,
                        "max_attempts": 3,
                        "cancel_requested": False,
                        "queued_at": now,
                        "finished_at": now,
                        "final_metrics": finals,
                        "weights_checksum": checksum,
                        "epoch_checksums": [checksum] * epochs,
                        "epoch": epochs,
                        "epochs_total": epochs,
                    }
                )
                points.extend(
                    {
                        "run_id": run_id,
                        "attempt": 1,
                        "key": key,
                        "step": step,
                        "value": base + 0.1 / step + seed * 1e-4 + jitter,
                    }
                    for key, base in METRICS
                    for step in range(1, epochs + 1)
                )
        conn.execute(insert(Run), runs)
        conn.execute(insert(MetricPoint), points)
    with db.write() as session:
        for run in session.scalars(select(Run).where(Run.job_id == job_id)):
            runs_repository.store_curves(session=session, run=run)
    return int(job_id)


def server_ms(http: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    """First call, then median over repeat calls (ms, loopback), and the body size in bytes."""
    started = time.perf_counter()
    size = len(http.get(path).raise_for_status().content)
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        http.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return first, median(times), size


def browser_ms(base_url: str, path: str, loads: int) -> tuple[float, float, float]:
    """Median (ms) over loads with Plotly.js cached: response end, verdict in DOM, first chart."""
    from playwright.sync_api import sync_playwright

    response_end, verdict, chart = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        context.add_init_script(FIRST_CHART)
        page = context.new_page()
        page.goto(path)  # warms the HTTP cache: Plotly.js and our assets are immutable
        page.wait_for_function("window.__firstChart !== null", timeout=30_000)
        for _ in range(loads):
            page.goto(path)
            page.wait_for_function("window.__firstChart !== null", timeout=30_000)
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
            response_end.append(nav["responseEnd"])
            verdict.append(nav["domInteractive"])
            chart.append(page.evaluate("window.__firstChart"))
        browser.close()
    return median(response_end), median(verdict), median(chart)


def main() -> None:
    """Populate, serve, measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'seedlab.db'}")
        upgrade_to_head(db.engine)
        with db.write() as session:
            experiments_service.sync_catalog(session=session)
        big = add_job(db, seeds=500, repeats=2, epochs=1, differ_every=50)
        hundred = add_job(db, seeds=50, repeats=2, epochs=20, differ_every=25)
        db.dispose()
        live = LiveSystem(Path(tmp))
        rows: list[tuple[str, str]] = []
        try:
            live.start_server()
            with httpx.Client(base_url=live.url, timeout=120) as http:
                for name, job_id in (("1,000-run", big), ("100-run", hundred)):
                    for path in (
                        f"/jobs/{job_id}",
                        f"/jobs/{job_id}/live",
                        f"/api/v1/jobs/{job_id}/overlay",
                    ):
                        first, med, size = server_ms(http, path, args.repeat)
                        rows.append(
                            (
                                f"{name} GET {path}",
                                f"median {med:.1f} ms (first {first:.1f} ms), {size / 1024:.0f} KB",
                            )
                        )
            for name, job_id in (("1,000-run", big), ("100-run", hundred)):
                end, verdict, chart = browser_ms(live.url, f"/jobs/{job_id}", args.loads)
                rows.append(
                    (
                        f"{name} job page in Chromium (Plotly.js cached)",
                        f"response end {end:.0f} ms, verdict in DOM {verdict:.0f} ms, "
                        f"first chart drawn {chart:.0f} ms",
                    )
                )
        finally:
            live.stop()
    report("job pages of big jobs (bench_pages)", rows)


if __name__ == "__main__":
    main()

"""Packed run curves: stored when a run finishes, read by the overlay and the report instead of
metric points; runs without them (still running, or finished before 0004) read from points."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import delete, select

from seedlab.cache import ResultCache
from seedlab.config import Settings
from seedlab.db import Database, utcnow
from seedlab.jobs import report as jobs_report
from seedlab.queue import service as queue_service
from seedlab.queue.schemas import PointsBatch
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import MetricPoint, RunCurve
from tests.factory import claim, create_job, finish, register_agent

KEYS = ("loss", "val_auc", "val_loss")


def _claim(db: Database, settings: Settings, agent_id: int) -> tuple[int, int]:
    claimed = claim(db, settings, agent_id)
    assert claimed is not None
    return claimed.run_id, claimed.attempt


def _log(db: Database, run_id: int, attempt: int, epochs: int, offset: float = 0.0) -> None:
    # Values with many significant digits, so any float32 or text round trip would show.
    steps = list(range(1, epochs + 1))
    series = [
        {"key": key, "steps": steps, "values": [i + offset + 1 / (s * 7.0) for s in steps]}
        for i, key in enumerate(KEYS)
    ]
    with db.write() as session:
        queue_service.ingest_points(
            session=session,
            run_id=run_id,
            payload=PointsBatch(attempt=attempt, series=series, epoch=epochs),
        )


def _overlay(db: Database, job_id: int, metric: str = "val_loss") -> dict:  # type: ignore[type-arg]
    with db.read() as session:  # a fresh cache: every call must read the database
        return jobs_report.overlay(
            session=session,
            job_id=job_id,
            metric=metric,
            band=True,
            max_points=50,
            cache=ResultCache(),
        )


def _points(db: Database, run_id: int, attempt: int) -> dict[str, list[tuple[int, float]]]:
    with db.read() as session:
        rows = session.execute(
            select(MetricPoint.key, MetricPoint.step, MetricPoint.value)
            .where(MetricPoint.run_id == run_id, MetricPoint.attempt == attempt)
            .order_by(MetricPoint.key, MetricPoint.step)
        ).all()
    out: dict[str, list[tuple[int, float]]] = {}
    for key, step, value in rows:
        out.setdefault(key, []).append((step, value))
    return out


def test_finishing_a_run_packs_exactly_its_points(database: Database, settings: Settings) -> None:
    create_job(database, settings, "1:2x1")[0]
    agent = register_agent(database)
    for status in ("succeeded", "failed"):
        run_id, attempt = _claim(database, settings, agent)
        _log(database, run_id, attempt, epochs=120)
        finish(database, run_id, attempt, status=status)
        with database.read() as session:
            stored = session.execute(
                select(RunCurve.key, RunCurve.attempt, RunCurve.steps, RunCurve.values)
                .where(RunCurve.run_id == run_id)
                .order_by(RunCurve.key)
            ).all()
        assert [c.key for c in stored] == sorted(KEYS)
        points = _points(database, run_id, attempt)
        for curve in stored:
            assert curve.attempt == attempt
            steps = np.frombuffer(curve.steps, runs_repository.STEP_DTYPE).tolist()
            values = np.frombuffer(curve.values, runs_repository.VALUE_DTYPE).tolist()
            assert list(zip(steps, values, strict=True)) == points[curve.key]


def test_a_retried_run_packs_only_its_last_attempt(database: Database, settings: Settings) -> None:
    job_id = create_job(database, settings, "1:1x1")[0]
    agent = register_agent(database)
    run_id, first = _claim(database, settings, agent)
    _log(database, run_id, first, epochs=5, offset=100.0)
    with database.write() as session:
        queue_service.reap_expired_leases(session=session, now=utcnow() + timedelta(hours=1))
    run_id, second = _claim(database, settings, agent)
    assert second == first + 1
    _log(database, run_id, second, epochs=3)
    finish(database, run_id, second)
    with database.read() as session:
        curves = runs_repository.job_curves(session=session, job_id=job_id)
    assert curves[run_id] == _points(database, run_id, second)
    assert [step for step, _ in curves[run_id]["loss"]] == [1, 2, 3]


def test_overlay_and_report_are_the_same_from_curves_or_points(
    database: Database, settings: Settings
) -> None:
    job_id = create_job(database, settings, "1:3x2")[0]
    agent = register_agent(database)
    for _ in range(6):
        run_id, attempt = _claim(database, settings, agent)
        _log(database, run_id, attempt, epochs=80, offset=run_id * 1e-3)
        finish(database, run_id, attempt)
    with database.read() as session:
        assert len(session.scalars(select(RunCurve)).all()) == 6 * len(KEYS)
        report = jobs_report.build_report(session=session, job_id=job_id, cache=ResultCache())
    from_curves = {metric: _overlay(database, job_id, metric) for metric in KEYS}
    with database.write() as session:
        session.execute(delete(RunCurve))  # as for runs that finished before migration 0004
    with database.read() as session:
        again = jobs_report.build_report(session=session, job_id=job_id, cache=ResultCache())
        assert again == report
    for metric in KEYS:
        assert _overlay(database, job_id, metric) == from_curves[metric]
    figure = from_curves["val_loss"]
    assert figure["metrics"] == sorted(KEYS)
    assert len(figure["figure"]["data"]) == 6 + 3  # one line per run plus the band


def test_running_runs_are_read_from_points_next_to_finished_ones(
    database: Database, settings: Settings
) -> None:
    job_id = create_job(database, settings, "1:2x1")[0]
    agent = register_agent(database)
    done, done_attempt = _claim(database, settings, agent)
    _log(database, done, done_attempt, epochs=10)
    finish(database, done, done_attempt)
    running, running_attempt = _claim(database, settings, agent)
    _log(database, running, running_attempt, epochs=4, offset=0.5)
    with database.read() as session:
        curves = runs_repository.job_curves(session=session, job_id=job_id)
        keys = runs_repository.job_metric_keys(session=session, job_id=job_id)
        stored = session.scalars(select(RunCurve.run_id).distinct()).all()
    assert stored == [done]
    assert curves == {
        done: _points(database, done, done_attempt),
        running: _points(database, running, running_attempt),
    }
    assert keys == sorted(KEYS)
    traces = _overlay(database, job_id)["figure"]["data"]
    lines = {t["name"]: t for t in traces if t.get("meta") != "band"}
    assert sorted(len(t["x"]) for t in lines.values()) == [4, 10]
    assert [t for t in traces if t.get("meta") == "band"] == []  # one succeeded seed: no band

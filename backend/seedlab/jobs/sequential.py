"""Sequential seed plans (`BASE:auto`): after each round, stop or queue the next round of seeds.

Everything is derived from the database: the round in progress is the last entry of
job.sequential["rounds"] with no half-width yet, and it is closed only when none of the job's
runs is queued or running. The caller holds the job row locked (see lifecycle.refresh_status),
so two runs finishing at once decide a round once.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from seedlab.analysis.seedscience import seeds_for_halfwidth
from seedlab.analysis.spread import compute_spread
from seedlab.db import utcnow
from seedlab.experiments import service as experiments_service
from seedlab.jobs.models import Job
from seedlab.jobs.seedplan import SeedPlan, Until
from seedlab.runs import repository as runs_repository
from seedlab.runs import service as runs_service
from seedlab.runs.models import Run
from seedlab.status import RunStatus

TARGET_MET = "target met"
MAX_SEEDS_REACHED = "max seeds reached"
RUNS_FAILED = "runs failed"
CANCELLED = "cancelled"
METRIC_MISSING = "metric not reported"


def initial_state(*, base: int, until: Until, max_seeds: int, first_round: int) -> dict[str, Any]:
    """job.sequential of a new `BASE:auto` job: the first round queued, nothing decided."""
    return {
        "until": until.text(),
        "metric": until.metric,
        "op": until.op,
        "target": until.target,
        "max_seeds": max_seeds,
        "base": base,
        "rounds": [{"seeds": first_round, "halfwidth": None}],
        "met": None,
        "reason": None,
    }


def rule(state: dict[str, Any]) -> Until:
    """The stopping rule stored with the job."""
    return Until(metric=state["metric"], op=state["op"], target=float(state["target"]))


def halfwidth(
    runs: list[Run], metric: str, version: str, *, bounded: Collection[str] = ()
) -> float | None:
    """The metric's 95% CI half-width over seeds, as the report's spread computes its CI."""
    data = [
        runs_service.as_run_data(run, None)
        for run in runs
        if run.experiment_version is None or run.experiment_version == version
    ]
    spread = compute_spread(data, [metric], bounded=bounded)[metric]
    if spread.ci95 is None or spread.mean is None:
        return None
    half = (spread.ci95[1] - spread.ci95[0]) / 2
    return half if math.isfinite(half) else None


def advance(*, session: Session, job: Job) -> None:
    """Close the job's current round once its runs have ended: stop, or queue the next round."""
    state = job.sequential
    if state is None or state.get("reason") is not None:
        return
    runs = runs_repository.job_runs_current(session=session, job_id=job.id)
    active = {RunStatus.QUEUED.value, RunStatus.RUNNING.value}
    if any(run.status in active for run in runs):
        return
    rounds = [dict(r) for r in state["rounds"]]
    if job.cancel_requested:
        job.sequential = {**state, "met": False, "reason": CANCELLED}
        return
    if any(run.status != RunStatus.SUCCEEDED.value for run in runs):
        job.sequential = {**state, "met": False, "reason": RUNS_FAILED}
        return
    until = rule(state)
    bounded = experiments_service.bounded_metrics(
        session=session, name=job.experiment_name, version=job.experiment_version
    )
    half = halfwidth(runs, until.metric, job.experiment_version, bounded=bounded)
    seeds = sorted({run.seed for run in runs})
    rounds[-1] = {"seeds": len(seeds), "halfwidth": half}
    if half is None:
        job.sequential = {**state, "rounds": rounds, "met": False, "reason": METRIC_MISSING}
        return
    if until.holds(half):
        job.sequential = {**state, "rounds": rounds, "met": True, "reason": TARGET_MET}
        return
    max_seeds = int(state["max_seeds"])
    if len(seeds) >= max_seeds:
        job.sequential = {**state, "rounds": rounds, "met": False, "reason": MAX_SEEDS_REACHED}
        return
    total = next_round_total(runs, until, len(seeds), max_seeds, job.experiment_version)
    added = list(range(max(seeds) + 1, max(seeds) + 1 + total - len(seeds)))
    now = utcnow()
    max_attempts = runs[0].max_attempts if runs else 1
    session.add_all(
        Run(job_id=job.id, seed=seed, repeat=0, max_attempts=max_attempts, queued_at=now)
        for seed in added
    )
    job.run_count = len(runs) + len(added)
    job.seed_plan = SeedPlan(tuple(seeds + added), 1).to_json()
    rounds.append({"seeds": total, "halfwidth": None})
    job.sequential = {**state, "rounds": rounds}


def next_round_total(
    runs: list[Run], until: Until, have: int, max_seeds: int, version: str
) -> int:
    """Seeds after the next round: what the current std says the target needs, at least one
    more than now, at most the cap."""
    data = [
        runs_service.as_run_data(run, None)
        for run in runs
        if run.experiment_version in (None, version)
    ]
    std = compute_spread(data, [until.metric])[until.metric].std
    needed = seeds_for_halfwidth(std, until.target) if std is not None else None
    return min(max_seeds, max(have + 1, needed if needed is not None else max_seeds))

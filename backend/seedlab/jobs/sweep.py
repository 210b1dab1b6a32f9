"""Sweep jobs: configurations raced on common seeds, rounds decided from the runs.

Every configuration runs the same seeds (`BASE`, `BASE+1`, ...). A racing sweep queues the
first round, and each time a round's runs have all ended `advance` (under the job row lock,
see lifecycle.refresh_status) looks at the results with analysis.sweep.look: it drops the
configurations worse than the leader beyond noise and stops, or queues the next round's seeds
for the configurations left. Without racing the one round is every seed. The report
recomputes the section from the stored runs with analysis.sweep.sweep_summary.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from seedlab.analysis import sweep as analysis
from seedlab.analysis.significance import lower_is_better
from seedlab.db import utcnow
from seedlab.errors import InvalidInput
from seedlab.jobs.models import Job
from seedlab.jobs.schemas import SweepSpec
from seedlab.jobs.seedplan import MAX_SEED, SeedPlan
from seedlab.runs import repository as runs_repository
from seedlab.runs.models import Run
from seedlab.status import RunStatus

DEFAULT_MAX_SEEDS = 20
RUNS_FAILED = "runs failed"
CANCELLED = "cancelled"
METRIC_MISSING = "metric not reported"
RACE_STOPS = (analysis.ONE_LEFT, analysis.TIED, analysis.MAX_SEEDS)
SEEDS_FORM = "'BASE:N' (N seeds per configuration, e.g. '42:10'; 'BASE:NxR' repeats each run) "
SEEDS_FORM += "or 'BASE:auto' (rounds of seeds up to max_seeds)"
_FIXED = re.compile(r"^\s*(\d{1,12})\s*:\s*(\d{1,12})\s*(?:[xX]\s*(\d{1,12}))?\s*$")
_AUTO = re.compile(r"^\s*(\d{1,12})\s*:\s*auto\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep job runs: configurations, seeds and the rounds of the race."""

    experiment: str
    configs: list[dict[str, Any]]  # the swept values of each configuration
    base: int
    max_seeds: int
    repeats: int
    race: bool
    metric: str
    mode: analysis.Mode
    margin: float

    @property
    def schedule(self) -> list[int]:
        """Seeds per configuration after each round."""
        first = min(analysis.FIRST_ROUND, self.max_seeds)
        return analysis.schedule(self.max_seeds, first=first, race=self.race)

    @property
    def runs_full_grid(self) -> int:
        """Every configuration on every seed."""
        return len(self.configs) * self.max_seeds * self.repeats

    @property
    def first_round_runs(self) -> int:
        """Runs queued at submission."""
        return len(self.configs) * self.schedule[0] * self.repeats

    def text(self) -> str:
        """The plan in one line."""
        k, first = len(self.configs), self.schedule[0]
        times = f"{k} configurations {TIMES} "
        if not self.race:
            runs = f"{self.max_seeds} seeds" + (
                f" {TIMES} {self.repeats}" if self.repeats > 1 else ""
            )
            return f"sweep {self.experiment}: {times}{runs} = {self.runs_full_grid} runs"
        return (
            f"sweep {self.experiment}: race {times}{first} seeds first "
            f"({self.first_round_runs} runs), rounds up to {self.max_seeds} seeds; "
            f"full grid {self.runs_full_grid} runs"
        )

    def describe(self) -> dict[str, Any]:
        """The plan preview."""
        first = self.schedule[0]
        return {
            "kind": "sweep",
            "experiment": self.experiment,
            "run_count": self.first_round_runs,
            "runs_full_grid": self.runs_full_grid,
            "first_round": {
                "seeds": list(range(self.base, self.base + first)),
                "configs": len(self.configs),
                "runs": self.first_round_runs,
            },
            "configs": self.configs,
            "text": self.text(),
        }

    def initial_state(self) -> dict[str, Any]:
        """job.sweep of a new sweep job: the first round queued, nothing decided."""
        k = len(self.configs)
        return {
            "metric": self.metric,
            "mode": self.mode,
            "margin": self.margin,
            "race": self.race,
            "alpha": analysis.ALPHA,
            "max_seeds": self.max_seeds,
            "base": self.base,
            "repeats": self.repeats,
            "configs": self.configs,
            "schedule": self.schedule,
            "rounds": [{"seeds": self.schedule[0], "alive": k}],
            "alive": list(range(k)),
            "eliminated_after": [None] * k,
            "reason": None,
        }

    def seed_plan(self) -> SeedPlan:
        """The first round's seeds (every configuration gets them)."""
        first = self.schedule[0]
        return SeedPlan(tuple(range(self.base, self.base + first)), self.repeats)


TIMES = "\u00d7"


def configurations(spec: SweepSpec) -> list[dict[str, Any]]:
    """The configurations of a grid (every combination, first parameter slowest) or a list."""
    if (spec.grid is None) == (spec.configs is None):
        raise InvalidInput("a sweep needs either grid (values per parameter) or configs (a list)")
    if spec.grid is not None:
        if not spec.grid:
            raise InvalidInput("a sweep grid needs at least one parameter")
        names = list(spec.grid)
        configs = [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(spec.grid[n] for n in names))
        ]
    else:
        configs = [dict(c) for c in spec.configs or []]
    if len(configs) < 2:
        raise InvalidInput(f"a sweep compares at least 2 configurations, got {len(configs)}")
    seen: set[str] = set()
    for config in configs:
        key = repr(sorted(config.items()))
        if key in seen:
            raise InvalidInput(f"the sweep lists configuration {config} twice")
        seen.add(key)
    return configs


def parse_plan(*, spec: SweepSpec | None, seeds: Any, experiment: str, max_runs: int) -> SweepPlan:
    """A sweep plan from the submission; InvalidInput says what is allowed."""
    if spec is None:
        raise InvalidInput("kind 'sweep' needs a sweep object: grid or configs, and metric")
    configs = configurations(spec)
    text = seeds if isinstance(seeds, str) else ""
    repeats = 1
    if m := _AUTO.match(text[:100]):
        base = int(m[1])
        race = True if spec.race is None else spec.race
        max_seeds = spec.max_seeds if spec.max_seeds is not None else DEFAULT_MAX_SEEDS
    elif m := _FIXED.match(text[:100]):
        base, count, repeats = int(m[1]), int(m[2]), int(m[3] or 1)
        race = bool(spec.race)
        if spec.max_seeds is not None and spec.max_seeds != count:
            raise InvalidInput(
                f"seeds {text!r} already say {count} seeds; max_seeds is for 'BASE:auto'"
            )
        max_seeds = count
        if race and repeats > 1:
            raise InvalidInput("a racing sweep runs each seed once: drop xREPEATS or race")
    else:
        raise InvalidInput(f"a sweep's seeds are {SEEDS_FORM}; got {str(seeds)[:100]!r}")
    if max_seeds < 2:
        raise InvalidInput("a sweep needs at least 2 seeds per configuration to see noise")
    if race and max_seeds < analysis.MIN_FIRST_ROUND:
        raise InvalidInput(f"a racing sweep needs max_seeds >= {analysis.MIN_FIRST_ROUND}")
    if repeats < 1:
        raise InvalidInput("seed plan repeats must be at least 1")
    if base + max_seeds - 1 > MAX_SEED:
        raise InvalidInput(f"seeds must be between 0 and {MAX_SEED}")
    mode: analysis.Mode = spec.mode or ("min" if lower_is_better(spec.metric) else "max")
    plan = SweepPlan(
        experiment=experiment,
        configs=configs,
        base=base,
        max_seeds=max_seeds,
        repeats=repeats,
        race=race,
        metric=spec.metric,
        mode=mode,
        margin=spec.margin,
    )
    if plan.runs_full_grid > max_runs:
        raise InvalidInput(
            f"{plan.text()}; the full grid must fit in {max_runs} runs per job: fewer "
            "configurations or seeds"
        )
    return plan


def config_label(params: dict[str, Any]) -> str:
    """A run's variant: its configuration's swept values (the runs table shows it)."""
    return analysis.params_label(params)[:200]


def new_runs(
    *,
    job: Job,
    seeds: list[int],
    configs: list[int],
    full_params: Callable[[int], dict[str, Any]],
    repeats: int,
    max_attempts: int,
    queued_at: datetime,
) -> list[Run]:
    """One run per (seed, configuration, repeat), every configuration of a seed together."""
    swept = job.sweep["configs"] if job.sweep else []
    return [
        Run(
            job_id=job.id,
            seed=seed,
            repeat=repeat,
            variant=config_label(swept[c]),
            config=c,
            params=full_params(c),
            max_attempts=max_attempts,
            queued_at=queued_at,
        )
        for repeat in range(repeats)
        for seed in seeds
        for c in configs
    ]


def _values(runs: list[Run], *, metric: str, version: str, k: int) -> list[dict[int, float]]:
    """Each configuration's finite metric value per seed (first repeat of a succeeded run)."""
    values: list[dict[int, float]] = [{} for _ in range(k)]
    for run in sorted(runs, key=lambda r: (r.seed, r.repeat, r.id)):
        if (
            run.config is None
            or not 0 <= run.config < k
            or run.status != RunStatus.SUCCEEDED.value
            or (run.experiment_version not in (None, version))
        ):
            continue
        value = (run.final_metrics or {}).get(metric)
        if value is not None and math.isfinite(value):
            values[run.config].setdefault(run.seed, float(value))
    return values


def advance(*, session: Session, job: Job) -> None:
    """Close the sweep's current round once its runs have ended: drop configurations worse
    beyond noise, then stop or queue the next round's seeds for the configurations left."""
    state = job.sweep
    if state is None or state.get("reason") is not None:
        return
    runs = runs_repository.job_runs_current(session=session, job_id=job.id)
    active = {RunStatus.QUEUED.value, RunStatus.RUNNING.value}
    if any(run.status in active for run in runs):
        return
    if job.cancel_requested:
        job.sweep = {**state, "reason": CANCELLED}
        return
    if any(run.status != RunStatus.SUCCEEDED.value for run in runs):
        job.sweep = {**state, "reason": RUNS_FAILED}
        return
    schedule = [int(s) for s in state["schedule"]]
    number = len(state["rounds"])
    seeds_now = schedule[number - 1]
    alive = [int(c) for c in state["alive"]]
    values = _values(
        runs, metric=state["metric"], version=job.experiment_version, k=len(state["configs"])
    )
    seeds = list(range(int(state["base"]), int(state["base"]) + seeds_now))
    if any(seed not in values[c] for c in alive for seed in seeds):
        job.sweep = {**state, "reason": METRIC_MISSING}
        return
    matrix = np.array([[values[c][seed] for seed in seeds] for c in alive])
    result = analysis.look(
        matrix,
        mode=state["mode"],
        alpha=analysis.look_alpha(float(state["alpha"]), len(schedule)),
        margin=float(state["margin"]),
        last=number == len(schedule),
    )
    eliminated_after = list(state["eliminated_after"])
    for row in result.eliminated:
        eliminated_after[alive[row]] = number
    left = [c for row, c in enumerate(alive) if row not in result.eliminated]
    decided = {**state, "alive": left, "eliminated_after": eliminated_after}
    if result.stop is not None:
        job.sweep = {**decided, "reason": result.stop}
        return
    total = schedule[number]
    added = list(range(seeds[-1] + 1, int(state["base"]) + total))
    template = {run.config: run for run in runs}
    max_attempts = runs[0].max_attempts if runs else 1
    # Added to the session, not to job.runs: relationships are lazy="raise" (architecture.md).
    session.add_all(
        new_runs(
            job=job,
            seeds=added,
            configs=left,
            full_params=lambda c: dict(template[c].params or job.params),
            repeats=1,
            max_attempts=max_attempts,
            queued_at=utcnow(),
        )
    )
    job.run_count = len(runs) + len(added) * len(left)
    job.seed_plan = SeedPlan(tuple(seeds + added), 1).to_json()
    job.sweep = {**decided, "rounds": [*state["rounds"], {"seeds": total, "alive": len(left)}]}


def section(job: Job, runs: list[Run]) -> dict[str, Any] | None:
    """The report's `sweep` section, recomputed from the stored runs and rounds."""
    state = job.sweep
    if state is None:
        return None
    k = len(state["configs"])
    values = _values(runs, metric=state["metric"], version=job.experiment_version, k=k)
    reason = state.get("reason")
    summary = analysis.sweep_summary(
        values,
        params=state["configs"],
        metric=state["metric"],
        mode=state["mode"],
        margin=float(state["margin"]),
        rounds=state["rounds"],
        eliminated_after=state["eliminated_after"],
        stop=reason if reason in RACE_STOPS else None,
        seeds_planned=int(state["max_seeds"]),
        alpha=float(state["alpha"]),
    )
    # Repeats (a fixed plan 'BASE:NxR') are runs too, though one value per seed is compared.
    repeats = int(state.get("repeats", 1))
    summary["runs_used"] = len(runs)
    summary["runs_full_grid"] = k * int(state["max_seeds"]) * repeats
    summary["reason"] = reason
    summary["sentence"] = analysis.sentence(summary)
    if reason is not None and reason not in RACE_STOPS:
        summary["sentence"] = f"The sweep ended without a conclusion: {reason}."
    return summary

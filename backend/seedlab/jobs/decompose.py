"""Decompose jobs: vary one source of randomness at a time, then split the metric's variance.

For a plan `BASE:M` and an experiment with the sources init, order and split, the job has one
group of M runs per source (that source's seed takes BASE, BASE+1, ..., the others stay at
BASE), a `kernels` group of M same-seed repeats under `seeds_only` (op determinism off), and an
`all_vary` group of M runs where every seed takes BASE+i (for the residual). A run's `seed` is
always its init seed; its order and split seeds are stored beside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from seedlab.analysis.seedscience import decompose_variance
from seedlab.errors import InvalidInput
from seedlab.jobs.seedplan import MAX_SEED
from seedlab.profiles import SEED_TOGGLES, Profile, resolve_profile

TIMES = "\u00d7"  # the multiplication sign, as in "4 groups TIMES 3 runs"
KERNELS = "kernels"
ALL_VARY = "all_vary"
# The separately seeded sources, in report order (experiments/spec.py SEED_SOURCES).
SOURCES = ("init", "order", "split")
MIN_PER_GROUP = 2  # a variance needs two values
DEFAULT_SEEDS = "42:3"
MAX_PER_GROUP = 100
FORM = "'BASE:M' (e.g. '42:3': base seed 42, M = 3 runs per group, M from 2 to 100)"
_PLAN = re.compile(r"^\s*(\d{1,12})\s*:\s*(\d{1,12})\s*$")


@dataclass(frozen=True)
class DecomposeRun:
    """One run of the plan: its group, its three seeds and whether kernels are free."""

    group: str
    seed: int  # the init seed
    repeat: int
    order_seed: int | None  # None: the experiment has no separate order, it follows `seed`
    split_seed: int | None


@dataclass(frozen=True)
class DecomposePlan:
    """What a decompose job runs, stated before it is submitted."""

    experiment: str
    base: int
    per_group: int
    sources: tuple[str, ...]

    @property
    def groups(self) -> tuple[str, ...]:
        """The one-source groups: each declared source, then kernels."""
        return (*self.sources, KERNELS)

    @property
    def run_count(self) -> int:
        """Every group of M runs plus M all-vary runs."""
        return (len(self.groups) + 1) * self.per_group

    def text(self) -> str:
        """The plan in one line: 'decompose credit_risk_mlp: 4 groups TIMES 3 runs + 3 all-vary
        = 15 runs'."""
        m = self.per_group
        return (
            f"decompose {self.experiment}: {len(self.groups)} groups {TIMES} {m} runs"
            f" + {m} all-vary = {self.run_count} runs"
        )

    def seed_plan_text(self) -> str:
        """The job's seed plan column: base and runs per group."""
        return f"{self.base}:{self.per_group} per group ({', '.join(self.groups)}, all-vary)"

    def to_json(self) -> dict[str, Any]:
        """The stored seed plan: the seeds each source takes, and how to submit it again."""
        return {
            "seeds": list(range(self.base, self.base + self.per_group)),
            "repeats": 1,
            "decompose": {
                "base": self.base,
                "per_group": self.per_group,
                "sources": list(self.sources),
            },
        }

    def describe(self) -> dict[str, Any]:
        """The preview: every group with its runs' seeds."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for run in self.expand():
            groups.setdefault(run.group, []).append(
                {"init": run.seed, "order": run.order_seed, "split": run.split_seed}
            )
        return {
            "kind": "decompose",
            "experiment": self.experiment,
            "seeds": f"{self.base}:{self.per_group}",
            "sources": list(self.sources),
            "groups": [
                {
                    "name": name,
                    "runs": len(runs),
                    "profile": "seeds_only" if name == KERNELS else None,
                    "seeds": runs,
                }
                for name, runs in groups.items()
            ],
            "run_count": self.run_count,
            "text": self.text(),
        }

    def expand(self) -> list[DecomposeRun]:
        """Every run, group by group; sources the experiment lacks follow the init seed."""
        base, values = self.base, range(self.base, self.base + self.per_group)
        has_order, has_split = "order" in self.sources, "split" in self.sources

        def run(group: str, init: int, order: int, split: int, repeat: int = 0) -> DecomposeRun:
            return DecomposeRun(
                group=group,
                seed=init,
                repeat=repeat,
                order_seed=order if has_order else None,
                split_seed=split if has_split else None,
            )

        runs: list[DecomposeRun] = []
        for source in self.sources:
            for v in values:
                init = v if source == "init" else base
                order = v if source == "order" else base
                split = v if source == "split" else base
                runs.append(run(source, init, order, split))
        runs.extend(run(KERNELS, base, base, base, repeat=i) for i in range(self.per_group))
        runs.extend(run(ALL_VARY, v, v, v) for v in values)
        return runs


def parse_plan(
    value: Any, *, experiment: str, sources: tuple[str, ...], max_runs: int
) -> DecomposePlan:
    """A decompose plan from 'BASE:M' or {base, count}; InvalidInput says what is allowed."""
    if isinstance(value, str) and (m := _PLAN.match(value[:100])):
        base, per_group = int(m[1]), int(m[2])
    elif (
        isinstance(value, dict)
        and set(value) <= {"base", "count", "repeats"}
        and all(
            isinstance(value.get(k), int) and not isinstance(value.get(k), bool)
            for k in ("base", "count")
        )
        and value.get("repeats", 1) == 1
    ):
        base, per_group = value["base"], value["count"]
    else:
        raise InvalidInput(f"a decompose job's seeds are {FORM}; got {str(value)[:100]!r}")
    if not MIN_PER_GROUP <= per_group <= MAX_PER_GROUP:
        raise InvalidInput(f"a decompose job needs M from 2 to 100 runs per group; got {per_group}")
    if not 0 <= base <= MAX_SEED - per_group + 1:
        raise InvalidInput(f"seeds must be between 0 and {MAX_SEED}; {base}:{per_group} is not")
    plan = DecomposePlan(
        experiment=experiment,
        base=base,
        per_group=per_group,
        sources=tuple(s for s in SOURCES if s in sources),
    )
    if plan.run_count > max_runs:
        raise InvalidInput(
            f"{plan.text()}; at most {max_runs} runs per job: use a smaller M"
        )
    return plan


def stored_plan(job_seed_plan: dict[str, Any], experiment: str) -> DecomposePlan:
    """The plan of a submitted decompose job."""
    stored = job_seed_plan["decompose"]
    return DecomposePlan(
        experiment=experiment,
        base=int(stored["base"]),
        per_group=int(stored["per_group"]),
        sources=tuple(stored["sources"]),
    )


def check_profile(profile: Profile) -> None:
    """A decomposition needs the seeds to reach the run: every seed toggle on."""
    off = [name for name in SEED_TOGGLES if not getattr(profile, name)]
    if off:
        raise InvalidInput(
            f"a decompose job needs a profile that applies the seeds; profile {profile.name!r} "
            f"turns off {', '.join(off)}. Use full (the default) or seeds_only, or turn those on"
        )


def kernels_profile(profile: Profile) -> Profile:
    """The kernels group's profile: seeds_only (op determinism off), the job's env kept."""
    free = resolve_profile("seeds_only")
    return free.model_copy(
        update={
            "name": free.name if not profile.env else f"{free.name}+custom",
            "env": dict(profile.env),
            "hash_seed_value": profile.hash_seed_value,
            "trace": profile.trace,
        }
    )


def decomposition(
    runs: list[tuple[str | None, dict[str, float] | None]],
    *,
    sources: tuple[str, ...],
    finished: bool = False,
) -> dict[str, Any]:
    """Per final metric: each source's share of the variance with its CI, and the residual.

    runs: (group, final metrics) of every succeeded run, in plan order. A metric is decomposed
    once every group has the same number (at least two) of finite values; when the job has
    finished with some runs failed, each group keeps its first values up to the smallest
    group's count (still at least two).
    """
    groups = (*sources, KERNELS)
    names = sorted({name for _, metrics in runs for name in metrics or {}})
    out: dict[str, Any] = {}
    for name in names:
        values: dict[str, list[float]] = {group: [] for group in (*groups, ALL_VARY)}
        for group, metrics in runs:
            value = (metrics or {}).get(name)
            if group in values and value is not None and math.isfinite(value):
                values[group].append(float(value))
        sizes = {len(values[group]) for group in groups}
        if min(sizes) < MIN_PER_GROUP or (len(sizes) != 1 and not finished):
            continue  # runs still to come, or too few left: no like-for-like groups
        keep = min(sizes)
        all_vary = values[ALL_VARY] if len(values[ALL_VARY]) >= MIN_PER_GROUP else None
        result = decompose_variance({g: values[g][:keep] for g in groups}, all_vary=all_vary)
        out[name] = result.to_dict()
    return out


def sentence(metric: str, section: dict[str, Any]) -> str:
    """'val_auc: init 48% [35, 60], data order 41% [..], split 9% [..], kernels 0% [..]'."""
    labels = {"init": "init", "order": "data order", "split": "split", "kernels": "kernels"}
    parts = []
    for name, row in section["sources"].items():
        lo, hi = row["ci95"]
        parts.append(
            f"{labels.get(name, name)} {100 * row['share']:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
        )
    return f"{metric}: {', '.join(parts)}; residual {100 * section['residual']:.0f}%"

"""Seed plans: `BASE:COUNTxREPEATS`, an explicit list, or the same as an object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from seedlab.errors import InvalidInput

MAX_SEED = 2**32 - 1  # NumPy's legacy seeding accepts 0 .. 2**32 - 1
# At most 12 digits per number: int() of a number with thousands of digits is refused by Python
# (and slow), and no seed, count or repeat count is that large anyway.
_RANGE = re.compile(r"^\s*(\d{1,12})\s*:\s*(\d{1,12})\s*(?:[xX]\s*(\d{1,12}))?\s*$")
_LIST = re.compile(r"^\s*(\d{1,12}(?:\s*,\s*\d{1,12})*)\s*(?:[xX]\s*(\d{1,12}))?\s*$")
MAX_PLAN_TEXT = 20_000
FORMS = (
    "'BASE:COUNTxREPEATS' (e.g. '42:5x2'), 'BASE:COUNT', a list like '1,7,9x2', a JSON list, "
    "or 'BASE:auto' with until"
)


@dataclass(frozen=True)
class SeedPlan:
    """Distinct seeds, each run `repeats` times, in submission order."""

    seeds: tuple[int, ...]
    repeats: int

    @property
    def run_count(self) -> int:
        """How many runs the plan expands into."""
        return len(self.seeds) * self.repeats

    def text(self) -> str:
        """Canonical short form, as the CLI accepts it."""
        base = self.seeds[0]
        if self.seeds == tuple(range(base, base + len(self.seeds))) and len(self.seeds) > 1:
            return f"{base}:{len(self.seeds)}x{self.repeats}"
        return ",".join(str(s) for s in self.seeds) + f"x{self.repeats}"

    def to_json(self) -> dict[str, Any]:
        """Stored form."""
        return {"seeds": list(self.seeds), "repeats": self.repeats}

    def expand(self) -> list[tuple[int, int]]:
        """(seed, repeat) pairs, first repeats of every seed first so the spread shows early."""
        return [(seed, r) for r in range(self.repeats) for seed in self.seeds]


def _checked(seeds: list[int], repeats: int, max_runs: int) -> SeedPlan:
    if not seeds:
        raise InvalidInput(f"seed plan has no seeds; use {FORMS}")
    if repeats < 1:
        raise InvalidInput("seed plan repeats must be at least 1")
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise InvalidInput(f"seeds must be between 0 and {MAX_SEED}; got {bad[:5]}")
    if len(set(seeds)) != len(seeds):
        raise InvalidInput("seed plan lists a seed twice; use repeats to run a seed again")
    _check_size(len(seeds) * repeats, max_runs)
    return SeedPlan(tuple(seeds), repeats)


def _check_size(run_count: int, max_runs: int) -> None:
    if run_count > max_runs:
        raise InvalidInput(
            f"seed plan expands into {run_count} runs; at most {max_runs} runs per job"
        )


def _range(base: int, count: int, repeats: int, max_runs: int) -> SeedPlan:
    # Checked before building the list so a huge COUNT cannot allocate a huge range.
    _check_size(count * max(repeats, 1), max_runs)
    return _checked(list(range(base, base + count)), repeats, max_runs)


def _unreadable(text: str) -> InvalidInput:
    """What is wrong with a plan text the forms do not match, and what is allowed."""
    shown = repr(text[:60] + ("..." if len(text) > 60 else ""))
    numbers = re.findall(r"-?\d+", text)
    negative = next((n for n in numbers if n.startswith("-")), None)
    if negative is not None:
        return InvalidInput(
            f"seed plan {shown}: {negative[:20]} is negative; seeds are whole numbers from 0 to "
            f"{MAX_SEED}, and COUNT and REPEATS are at least 1; use {FORMS}"
        )
    huge = next((n for n in numbers if len(n) > 12), None)
    if huge is not None:
        number = huge if len(huge) <= 24 else huge[:20] + "..."
        return InvalidInput(
            f"seed plan {shown}: the number {number} ({len(huge)} digits) is too large; seeds "
            f"are whole numbers from 0 to {MAX_SEED} (10 digits), and COUNT x REPEATS is at "
            f"most the runs per job; use {FORMS}"
        )
    return InvalidInput(f"cannot read seed plan {shown}; use {FORMS}")


def parse_seed_plan(value: Any, *, max_runs: int) -> SeedPlan:
    """Parse a seed plan from its text, list or object form; InvalidInput says what is allowed."""
    if isinstance(value, str) and len(value) > MAX_PLAN_TEXT:
        raise InvalidInput(f"seed plan text is at most {MAX_PLAN_TEXT:,} characters; use {FORMS}")
    if isinstance(value, str):
        if m := _RANGE.match(value):
            base, count, repeats = int(m[1]), int(m[2]), int(m[3] or 1)
            if count < 1:
                raise InvalidInput("seed plan COUNT must be at least 1")
            return _range(base, count, repeats, max_runs)
        if m := _LIST.match(value):
            seeds = [int(s) for s in m[1].split(",")]
            return _checked(seeds, int(m[2] or 1), max_runs)
        if auto_base(value) is not None:
            raise InvalidInput(
                "seed plan 'BASE:auto' needs a stopping rule: give until (CLI --until), "
                "e.g. 'val_auc.ci95_halfwidth<=0.002'"
            )
        raise _unreadable(value)
    if isinstance(value, list) and all(
        isinstance(s, int) and not isinstance(s, bool) for s in value
    ):
        return _checked(list(value), 1, max_runs)
    if isinstance(value, dict):
        repeats = value.get("repeats", 1)
        if not isinstance(repeats, int) or isinstance(repeats, bool):
            raise InvalidInput("seed plan repeats must be an integer")
        if repeats > max_runs:
            raise InvalidInput(f"seed plan repeats is at most {max_runs} (runs per job)")
        if set(value) <= {"base", "count", "repeats"} and "base" in value and "count" in value:
            base, count = value["base"], value["count"]
            if not (isinstance(base, int) and isinstance(count, int)) or count < 1:
                raise InvalidInput("seed plan base and count must be integers, count >= 1")
            return _range(base, count, repeats, max_runs)
        if set(value) <= {"seeds", "repeats"} and isinstance(value.get("seeds"), list):
            seeds = value["seeds"]
            if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
                raise InvalidInput("seed plan seeds must be integers")
            return _checked(list(seeds), repeats, max_runs)
    raise InvalidInput(f"cannot read seed plan {str(value)[:100]!r}; use {FORMS}")


# ---- sequential plans: `BASE:auto` with a stopping rule ----

_AUTO = re.compile(r"^\s*(\d{1,12})\s*:\s*auto\s*$", re.IGNORECASE)
_UNTIL = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_\-/]*(?:\.[A-Za-z0-9_\-/]+)*?)"
    r"\.(?P<stat>[A-Za-z0-9_]+)\s*(?P<op><=|<)\s*(?P<number>[^\s]+)\s*$"
)
UNTIL_STATISTIC = "ci95_halfwidth"
UNTIL_FORM = (
    "METRIC.ci95_halfwidth<=NUMBER (or <), e.g. 'val_auc.ci95_halfwidth<=0.002', "
    "NUMBER a positive number"
)
FIRST_ROUND = 5
MIN_FIRST_ROUND = 3  # the half-width of fewer seeds says little about the spread
DEFAULT_MAX_SEEDS = 50


@dataclass(frozen=True)
class Until:
    """A stopping rule: the metric's 95% CI half-width over seeds below a target."""

    metric: str
    op: str  # "<=" or "<"
    target: float

    def text(self) -> str:
        """Canonical form, as the CLI accepts it."""
        return f"{self.metric}.{UNTIL_STATISTIC}{self.op}{self.target!r}"  # round-trips

    def holds(self, halfwidth: float) -> bool:
        """Whether a measured half-width meets the target."""
        return halfwidth <= self.target if self.op == "<=" else halfwidth < self.target


def auto_base(value: Any) -> int | None:
    """The BASE of a `BASE:auto` seed plan, or None when the plan is not sequential."""
    if isinstance(value, str) and (m := _AUTO.match(value)):
        return int(m[1])
    return None


def parse_until(text: str) -> Until:
    """Parse `METRIC.ci95_halfwidth<=NUMBER` strictly; InvalidInput names what is allowed."""
    shown = repr(str(text)[:200])
    m = _UNTIL.match(text) if len(text) <= 300 else None
    if m is None:
        raise InvalidInput(f"cannot read until expression {shown}; write {UNTIL_FORM}")
    if m["stat"] != UNTIL_STATISTIC:
        raise InvalidInput(
            f"until expression {shown} uses statistic {m['stat']!r}; only "
            f"{UNTIL_STATISTIC!r} is allowed: {UNTIL_FORM}"
        )
    try:
        target = float(m["number"])
    except ValueError:
        raise InvalidInput(
            f"until expression {shown}: {m['number']!r} is not a number; write {UNTIL_FORM}"
        ) from None
    if not (target > 0 and target < float("inf")):
        raise InvalidInput(
            f"until expression {shown}: the target half-width must be a positive finite "
            f"number, got {m['number']}"
        )
    return Until(metric=m["metric"], op=m["op"], target=target)


def sequential_plan(
    base: int, *, until: str, max_seeds: int, max_runs: int
) -> tuple[SeedPlan, Until]:
    """The first round of a `BASE:auto` plan and its stopping rule, checked against the caps."""
    rule = parse_until(until)
    if max_seeds < MIN_FIRST_ROUND:
        raise InvalidInput(
            f"max_seeds must be at least {MIN_FIRST_ROUND} (the first round), got {max_seeds}"
        )
    if max_seeds > max_runs:
        raise InvalidInput(
            f"max_seeds {max_seeds} is more than the {max_runs} runs allowed per job"
        )
    if base + max_seeds - 1 > MAX_SEED:
        raise InvalidInput(f"seeds must be between 0 and {MAX_SEED}; {base}:auto would pass it")
    first = min(FIRST_ROUND, max_seeds)
    return SeedPlan(tuple(range(base, base + first)), 1), rule

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
FORMS = "'BASE:COUNTxREPEATS' (e.g. '42:5x2'), 'BASE:COUNT', a list like '1,7,9x2', or a JSON list"


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
        raise InvalidInput(f"cannot read seed plan {str(value)[:100]!r}; use {FORMS}")
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

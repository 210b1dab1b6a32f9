"""Seed plan parsing and expansion."""

from __future__ import annotations

import pytest

from seedlab.errors import InvalidInput
from seedlab.jobs.seedplan import parse_seed_plan


def test_range_with_repeats_expands_base_plus_trial_index() -> None:
    plan = parse_seed_plan("42:5x2", max_runs=1000)
    assert plan.seeds == (42, 43, 44, 45, 46)
    assert plan.repeats == 2
    assert plan.run_count == 10
    assert plan.text() == "42:5x2"
    # Every seed's first repeat comes before any second one.
    assert plan.expand()[:5] == [(42, 0), (43, 0), (44, 0), (45, 0), (46, 0)]
    assert plan.expand()[5:] == [(42, 1), (43, 1), (44, 1), (45, 1), (46, 1)]


@pytest.mark.parametrize(
    ("value", "seeds", "repeats"),
    [
        ("7:3", (7, 8, 9), 1),
        ("1,7,9x2", (1, 7, 9), 2),
        ("5", (5,), 1),
        ([3, 1, 2], (3, 1, 2), 1),
        ({"base": 10, "count": 2, "repeats": 3}, (10, 11), 3),
        ({"seeds": [4, 5], "repeats": 2}, (4, 5), 2),
    ],
)
def test_accepted_forms(value: object, seeds: tuple[int, ...], repeats: int) -> None:
    plan = parse_seed_plan(value, max_runs=1000)
    assert (plan.seeds, plan.repeats) == (seeds, repeats)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("42:0x2", "COUNT must be at least 1"),
        ("42:5x0", "repeats must be at least 1"),
        ("forty-two", "cannot read seed plan"),
        ("1,1x2", "lists a seed twice"),
        ("4294967296:1", "between 0 and 4294967295"),
        ("0:600x2", "at most 1000 runs"),
        ({"base": 1}, "cannot read seed plan"),
    ],
)
def test_rejected_forms_say_what_is_allowed(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_seed_plan(value, max_runs=1000)

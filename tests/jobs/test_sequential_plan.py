"""The `BASE:auto` seed plan and its `until` rule: what is read, what is refused and why."""

from __future__ import annotations

import pytest

from seedlab.errors import InvalidInput
from seedlab.jobs.seedplan import (
    MAX_SEED,
    Until,
    auto_base,
    parse_seed_plan,
    parse_until,
    sequential_plan,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("val_auc.ci95_halfwidth<=0.002", Until("val_auc", "<=", 0.002)),
        ("  val_auc.ci95_halfwidth <= 2e-3 ", Until("val_auc", "<=", 0.002)),
        ("val_loss.ci95_halfwidth<0.01", Until("val_loss", "<", 0.01)),
        ("eval/top-1.acc.ci95_halfwidth<=1", Until("eval/top-1.acc", "<=", 1.0)),
    ],
)
def test_until_reads_metric_operator_and_target(text: str, expected: Until) -> None:
    assert parse_until(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("val_auc<=0.002", "cannot read until expression 'val_auc<=0.002'; write "
         "METRIC.ci95_halfwidth<=NUMBER"),
        ("val_auc.std<=0.002", "uses statistic 'std'; only 'ci95_halfwidth' is allowed"),
        ("val_auc.ci95_halfwidth>=0.002", "cannot read until expression"),
        ("val_auc.ci95_halfwidth==0.002", "cannot read until expression"),
        ("val_auc.ci95_halfwidth<=abc", "'abc' is not a number"),
        ("val_auc.ci95_halfwidth<=0", "must be a positive finite number, got 0"),
        ("val_auc.ci95_halfwidth<=-1", "must be a positive finite number"),
        ("val_auc.ci95_halfwidth<=inf", "must be a positive finite number"),
        ("val_auc.ci95_halfwidth<=nan", "must be a positive finite number"),
        ("", "cannot read until expression ''"),
        ("x" * 400 + ".ci95_halfwidth<=1", "cannot read until expression"),
    ],
)
def test_bad_until_says_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_until(text)
    assert message in info.value.message
    if "statistic" not in message and "number" not in message:
        assert "e.g. 'val_auc.ci95_halfwidth<=0.002'" in info.value.message


def test_until_text_round_trips() -> None:
    rule = parse_until("val_auc.ci95_halfwidth < 0.0020")
    assert rule.text() == "val_auc.ci95_halfwidth<0.002"
    assert parse_until(rule.text()) == rule
    assert rule.holds(0.0019) and not rule.holds(0.002)
    assert parse_until("m.ci95_halfwidth<=0.002").holds(0.002)


def test_auto_base_only_for_auto_plans() -> None:
    assert auto_base("42:auto") == 42 and auto_base(" 7 : AUTO ") == 7
    assert auto_base("42:5") is None and auto_base([1, 2]) is None and auto_base("auto") is None


def test_auto_plan_without_until_is_refused_by_the_fixed_parser() -> None:
    with pytest.raises(InvalidInput, match="needs a stopping rule: give until"):
        parse_seed_plan("42:auto", max_runs=100)


def test_first_round_is_five_seeds_or_the_cap() -> None:
    plan, rule = sequential_plan(42, until="val_auc.ci95_halfwidth<=0.01", max_seeds=50,
                                 max_runs=1000)
    assert plan.seeds == (42, 43, 44, 45, 46) and plan.repeats == 1
    assert rule.metric == "val_auc"
    plan, _ = sequential_plan(0, until="a.ci95_halfwidth<=1", max_seeds=3, max_runs=1000)
    assert plan.seeds == (0, 1, 2)


@pytest.mark.parametrize(
    ("base", "max_seeds", "max_runs", "message"),
    [
        (42, 2, 1000, "max_seeds must be at least 3 (the first round), got 2"),
        (42, 60, 50, "max_seeds 60 is more than the 50 runs allowed per job"),
        (MAX_SEED - 5, 10, 1000, f"seeds must be between 0 and {MAX_SEED}"),
    ],
)
def test_sequential_caps_are_checked(
    base: int, max_seeds: int, max_runs: int, message: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        sequential_plan(base, until="a.ci95_halfwidth<=1", max_seeds=max_seeds, max_runs=max_runs)
    assert message in info.value.message


def test_until_text_keeps_every_digit_of_the_target() -> None:
    rule = parse_until("val_auc.ci95_halfwidth<=0.0012345678901")
    assert parse_until(rule.text()).target == 0.0012345678901

"""Seed-robust sweeps: the racing rules against hand-checked cases and simulated sweeps.

The simulation figures quoted in docs/sweeps.md come from `simulate` below (printed with -s).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from seedlab.analysis.sweep import (
    ONE_LEFT,
    TIED,
    bootstrap_best,
    holm,
    look,
    paired_p_worse,
    run_race,
    run_races,
    schedule,
    seeds_to_decide,
    sentence,
    sweep_summary,
    winner_index,
)

SIMS = 2000


def sweeps(
    rng: np.random.Generator, *, sims: int, k: int, seeds: int, gaps: Any, rho: float
) -> np.ndarray[Any, Any]:
    """sims x k x seeds metric values in units of the seed std: config i's true mean is
    gaps[i]; a shared seed effect (correlation rho between configs on one seed) plus noise."""
    shared = rng.normal(size=(sims, 1, seeds)) * math.sqrt(rho)
    own = rng.normal(size=(sims, k, seeds)) * math.sqrt(1 - rho)
    return np.asarray(gaps, dtype=float)[None, :, None] + shared + own


def test_schedule_grows_by_half_and_stops_at_the_cap() -> None:
    assert schedule(20) == [5, 8, 12, 18, 20]
    assert schedule(50) == [5, 8, 12, 18, 27, 41, 50]
    assert schedule(4) == [4]
    assert schedule(12, race=False) == [12]
    assert schedule(10, first=3) == [3, 5, 8, 10]


def test_holm_steps_down_and_stops_at_the_first_failure() -> None:
    # thresholds 0.05/3, 0.05/2, 0.05/1
    assert holm([0.01, 0.02, 0.04], 0.05) == [True, True, True]
    assert holm([0.01, 0.03, 0.04], 0.05) == [True, False, False]
    assert holm([0.02, 0.001, 0.9], 0.05) == [True, True, False]
    assert holm([0.2], 0.05) == [False]


def test_paired_p_is_scipys_paired_t() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=9) + 0.5, rng.normal(size=9)
    expected = stats.ttest_rel(a, b).pvalue
    assert paired_p_worse(a, b) == pytest.approx(expected, rel=1e-12)
    assert paired_p_worse(np.array([2.0, 3.0]), np.array([1.0, 2.0])) == 0.0  # exact gap
    assert paired_p_worse(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 1.0


def test_look_drops_the_clearly_worse_and_follows_the_mode() -> None:
    shared = np.array([0.0, 0.3, -0.2, 0.1, 0.4, -0.1])
    values = np.stack([shared + 1.0, shared + 0.99 + 0.01 * np.arange(6) % 2, shared - 5.0])
    result = look(values, mode="max", alpha=0.05, margin=0.0)
    assert result.leader in (0, 1)
    assert result.eliminated == [2]
    lowest = look(values, mode="min", alpha=0.05, margin=0.0)
    assert lowest.leader == 2 and lowest.eliminated == [0, 1] and lowest.stop == ONE_LEFT


def test_look_stops_tied_when_the_leaders_are_within_the_margin() -> None:
    rng = np.random.default_rng(3)
    shared = rng.normal(size=12)
    values = np.stack([shared + 0.001 * rng.normal(size=12), shared, shared - 3.0])
    assert look(values, mode="max", alpha=0.05, margin=0.0).stop is None
    tied = look(values, mode="max", alpha=0.05, margin=0.1)
    assert tied.stop == TIED and tied.eliminated == [2]


def test_one_race_matches_the_batch_of_races() -> None:
    rng = np.random.default_rng(5)
    matrices = sweeps(rng, sims=30, k=5, seeds=20, gaps=[1, 0, 0, -1, -2], rho=0.5)
    totals = schedule(20)
    batch = run_races(matrices, mode="max", totals=totals)
    for s in range(30):
        race = run_race(matrices[s], mode="max", totals=totals)
        assert [e or 0 for e in race.eliminated_after] == list(batch.eliminated_after[s])
        assert race.n == list(batch.n[s])
        assert winner_index(matrices[s], race, mode="max") == batch.winner[s]
        assert race.rounds[0] == {"seeds": 5, "alive": 5}


def _increments(rounds: list[dict[str, int]]) -> list[tuple[dict[str, int], int]]:
    return list(zip(rounds, [0] + [r["seeds"] for r in rounds[:-1]], strict=True))


def test_runs_used_is_what_the_rounds_queued() -> None:
    rng = np.random.default_rng(8)
    matrix = sweeps(rng, sims=1, k=6, seeds=27, gaps=[0, -0.2, -1, -2, -3, -4], rho=0.5)[0]
    race = run_race(matrix, mode="max", totals=schedule(27))
    queued = sum(r["alive"] * (r["seeds"] - p) for r, p in _increments(race.rounds))
    assert race.runs_used == queued < 6 * 27


def test_summary_reports_means_cis_ranks_and_a_decided_winner() -> None:
    values = [
        {1: 0.80, 2: 0.82, 3: 0.81, 4: 0.83, 5: 0.80},
        {1: 0.50, 2: 0.52, 3: 0.51},  # eliminated after round 1 (three seeds)
    ]
    section = sweep_summary(
        values,
        params=[{"lr": 0.01}, {"lr": 1e-6}],
        metric="val_auc",
        mode="max",
        margin=0.0,
        rounds=[{"seeds": 3, "alive": 2}, {"seeds": 5, "alive": 1}],
        eliminated_after=[None, 1],
        stop=ONE_LEFT,
        seeds_planned=10,
    )
    first, second = section["configs"]
    assert first["n"] == 5 and first["mean"] == pytest.approx(0.812)
    half = stats.t.ppf(0.975, 4) * np.std([0.80, 0.82, 0.81, 0.83, 0.80], ddof=1) / math.sqrt(5)
    assert first["ci95"] == pytest.approx([0.812 - half, 0.812 + half])
    assert (first["rank"], second["rank"]) == (1, 2)
    assert first["p_best"] == 1.0 and second["p_best"] == 0.0
    assert first["rank_interval"] == [1, 1]
    assert second["eliminated_after"] == 1
    assert section["winner"]["conclusion"] == "decided"
    assert section["winner"]["params"] == {"lr": 0.01}
    assert section["winner"]["seeds_needed"] == 5
    assert (section["runs_used"], section["runs_full_grid"]) == (8, 20)
    assert "lr=0.01 is the best on val_auc" in sentence(section)


def test_summary_of_a_close_pair_is_inconclusive_with_seeds_to_decide() -> None:
    rng = np.random.default_rng(11)
    shared = rng.normal(size=5)
    a = shared + 0.3 + 0.5 * rng.normal(size=5)
    b = shared + 0.5 * rng.normal(size=5)
    section = sweep_summary(
        [dict(enumerate(a)), dict(enumerate(b))],
        params=[{"u": 1}, {"u": 2}],
        metric="m",
        mode="max",
        margin=0.0,
        rounds=[{"seeds": 5, "alive": 2}],
        eliminated_after=[None, None],
        stop="max seeds reached",
        seeds_planned=5,
    )
    winner = section["winner"]
    assert winner["conclusion"] == "inconclusive"
    leader = 0 if a.mean() > b.mean() else 1
    assert winner["params"] == [{"u": 1}, {"u": 2}][leader]
    signed = [a, b]
    expected = seeds_to_decide(signed[leader], [signed[1 - leader]], margin=0.0)
    assert winner["seeds_needed"] == expected and expected is not None and expected > 5
    assert len(winner["tied"]) == 2
    assert 0.0 < section["configs"][0]["p_best"] < 1.0


def test_summary_of_a_race_stopped_within_the_margin_is_tied_leader_first() -> None:
    section = sweep_summary(
        [{1: 0.90, 2: 0.91, 3: 0.92}, {1: 0.91, 2: 0.92, 3: 0.92}, {1: 0.5, 2: 0.5}],
        params=[{"u": 1}, {"u": 2}, {"u": 3}],
        metric="m",
        mode="max",
        margin=0.05,
        rounds=[{"seeds": 2, "alive": 3}, {"seeds": 3, "alive": 2}],
        eliminated_after=[None, None, 1],
        stop=TIED,
        seeds_planned=10,
    )
    winner = section["winner"]
    assert winner["conclusion"] == "tied"
    # The leader by mean, and the tied ones best first; the eliminated one is not among them.
    assert winner["params"] == {"u": 2}
    assert winner["tied"] == [{"u": 2}, {"u": 1}]
    assert winner["seeds_needed"] == 3


def test_no_conclusion_while_the_race_runs() -> None:
    section = sweep_summary(
        [{1: 1.0, 2: 2.0}, {1: 0.5}],
        params=[{"a": 1}, {"a": 2}],
        metric="m",
        mode="min",
        margin=0.0,
        rounds=[{"seeds": 2, "alive": 2}],
        eliminated_after=[None, None],
        stop=None,
        seeds_planned=4,
    )
    assert section["winner"] is None
    assert section["configs"][1]["rank"] == 1  # mode min: the lower mean ranks first
    assert "still racing" in sentence(section)


def simulate(gaps: list[float], *, seeds: int, rho: float, rng_seed: int) -> dict[str, float]:
    """Racing, the full grid at the same maximum seeds, and one seed per configuration."""
    rng = np.random.default_rng(rng_seed)
    k = len(gaps)
    matrices = sweeps(rng, sims=SIMS, k=k, seeds=seeds, gaps=gaps, rho=rho)
    best = int(np.argmax(gaps))
    raced = run_races(matrices, mode="max", totals=schedule(seeds))
    full = run_races(matrices, mode="max", totals=[seeds])
    one = np.argmax(matrices[:, :, 0], axis=1)
    return {
        "race_decided": float(raced.decided.mean()),
        "full_decided": float(full.decided.mean()),
        "race_right": float(np.mean(raced.winner == best)),
        "full_right": float(np.mean(full.winner == best)),
        "one_seed_right": float(np.mean(one == best)),
        "race_runs": float(raced.runs_used.mean()),
        "full_runs": float(k * seeds),
        "race_dropped_best": float(np.mean(raced.eliminated_after[:, best] > 0)),
    }


def test_equal_configurations_are_rarely_decided() -> None:
    # With equal means the paired differences do not depend on rho: one rho covers them all.
    figures = simulate([0.0] * 8, seeds=20, rho=0.5, rng_seed=1)
    print(f"\nall equal: {figures}")
    assert figures["race_decided"] <= 0.05
    assert figures["full_decided"] <= 0.05
    # Whatever the race drops is dropped wrongly here: the level holds over all its looks.
    assert figures["race_dropped_best"] <= 0.05


def test_equal_pair_is_rarely_decided() -> None:
    figures = simulate([0.0, 0.0], seeds=20, rho=0.5, rng_seed=2)
    print(f"\ntwo equal: {figures}")
    assert figures["race_decided"] <= 0.05 and figures["full_decided"] <= 0.05


@pytest.mark.parametrize(("rho", "share"), [(0.0, 0.95), (0.5, 0.85)])
def test_racing_finds_a_one_std_better_config_with_fewer_runs(rho: float, share: float) -> None:
    """rho: how much of the seed's luck the configurations share (pairing cancels it)."""
    figures = simulate([1.0] + [0.0] * 7, seeds=20, rho=rho, rng_seed=3)
    print(f"\none better by 1 std, rho={rho}: {figures}")
    assert figures["race_right"] >= figures["full_right"] - 0.005
    assert figures["race_runs"] < share * figures["full_runs"]
    assert figures["one_seed_right"] < figures["race_right"] - 0.3
    assert figures["race_dropped_best"] <= 0.01


def test_racing_saves_most_on_a_spread_out_grid() -> None:
    gaps = [0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -5.0]
    figures = simulate(gaps, seeds=20, rho=0.5, rng_seed=4)
    print(f"\nspread-out grid: {figures}")
    assert figures["race_right"] >= figures["full_right"] - 0.01
    assert figures["race_runs"] < 0.6 * figures["full_runs"]


def test_p_best_is_calibrated() -> None:
    """Reliability: configurations given p_best near p are the true best about p of the time."""
    rng = np.random.default_rng(7)
    k, seeds, sims = 5, 10, SIMS
    predicted: list[float] = []
    truth: list[bool] = []
    for s in range(sims):
        mu = rng.normal(size=k) * 0.5
        matrix = sweeps(rng, sims=1, k=k, seeds=seeds, gaps=mu, rho=0.5)[0]
        p, _ranks = bootstrap_best(matrix, mode="max", resamples=400, rng_seed=s)
        predicted.extend(p)
        truth.extend(np.arange(k) == np.argmax(mu))
    pred, hit = np.array(predicted), np.array(truth)
    edges = [0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001]
    print("\np_best bin | configs | mean p_best | share truly best")
    for lo, hi in itertools.pairwise(edges):
        chosen = (pred >= lo) & (pred < hi)
        assert chosen.sum() >= 100
        print(
            f"{lo:.2f}-{min(hi, 1):.2f} | {chosen.sum()} | {pred[chosen].mean():.3f} | "
            f"{hit[chosen].mean():.3f}"
        )
        assert abs(pred[chosen].mean() - hit[chosen].mean()) <= 0.1

"""Seed-robust sweeps: which configuration wins beyond seed noise, racing over common seeds.

Every configuration runs the same seeds, so each comparison is paired and the seed's shared
luck cancels. A race looks at the results after each round of seeds (the `schedule`) and drops
the configurations that are worse than the current leader beyond noise:

- at a look, each alive configuration is compared with the leader (the best mean over the
  round's seeds) by a paired t-test on their per-seed differences, two-sided because the
  leader was chosen as the best (a one-sided test against it would double its level);
- Holm's step-down procedure corrects over the k-1 comparisons of that look;
- the family-wise level is split evenly over the planned looks (Bonferroni over rounds), so
  with `alpha` = 0.05 the chance that a race ever drops a configuration that is not worse stays
  at about 5% however many rounds it runs (measured in tests/analysis/test_sweep.py).

A race stops when one configuration is left, when every alive configuration is within the
practical `margin` of the leader (each paired upper confidence bound of leader - other below
the margin: an intersection-union test, level alpha without correction), or at the last look.
The full grid is the same analysis with a single look at the maximum seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
RESAMPLES = 2000
FIRST_ROUND = 5
MIN_FIRST_ROUND = 3  # a paired t-test of fewer seeds says little
GROWTH = 0.5  # each round adds half the seeds so far (at least two)
MAX_SEEDS_NEEDED = 100_000

Mode = Literal["max", "min"]
Conclusion = Literal["decided", "tied", "inconclusive"]
ONE_LEFT = "one left"
TIED = "tied within margin"
MAX_SEEDS = "max seeds reached"

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def schedule(max_seeds: int, *, first: int = FIRST_ROUND, race: bool = True) -> list[int]:
    """Seeds after each round: `first`, then half again each round (at least 2), up to the cap.

    Without racing there is one round of `max_seeds`.
    """
    if max_seeds < 1:
        raise ValueError(f"max_seeds must be at least 1, got {max_seeds}")
    if not race:
        return [max_seeds]
    totals = [min(first, max_seeds)]
    while totals[-1] < max_seeds:
        now = totals[-1]
        totals.append(min(max_seeds, now + max(2, math.ceil(now * GROWTH))))
    return totals


def _signed(values: FloatArray, mode: Mode) -> FloatArray:
    """Values with higher always better."""
    return values if mode == "max" else -values


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections (strong family-wise control at alpha)."""
    p = np.asarray(pvalues, dtype=np.float64)[None, :]
    return [bool(x) for x in _holm_batch(p, np.ones_like(p, dtype=bool), alpha)[0]]


def _holm_batch(p: FloatArray, candidate: np.ndarray[Any, Any], alpha: float) -> Any:
    """Holm over each row's candidate p-values (rows: independent looks)."""
    masked = np.where(candidate, p, np.inf)
    order = np.argsort(masked, axis=1, kind="stable")
    ordered = np.take_along_axis(masked, order, axis=1)
    m = candidate.sum(axis=1, keepdims=True)
    step = np.arange(p.shape[1])[None, :]
    with np.errstate(divide="ignore"):
        ok = (step < m) & (ordered <= alpha / np.maximum(m - step, 1))
    taken = np.cumprod(ok, axis=1).sum(axis=1, keepdims=True)
    ranks = np.argsort(order, axis=1, kind="stable")
    return candidate & (ranks < taken)


def _paired(signed: FloatArray, leader: Any) -> tuple[FloatArray, FloatArray, int]:
    """Mean and std (ddof=1) of leader - other per configuration, and the seeds compared."""
    lead = np.take_along_axis(signed, leader[:, None, None], axis=1)
    diff = lead - signed
    n = signed.shape[2]
    mean = diff.mean(axis=2)
    sd = diff.std(axis=2, ddof=1) if n >= 2 else np.full(mean.shape, np.nan)
    return mean, sd, n


def _p_worse(mean: FloatArray, sd: FloatArray, n: int) -> FloatArray:
    """Paired t-test p-values of the gap to the leader (two-sided; the gap is >= 0)."""
    if n < 2:
        return np.ones_like(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(n))
    # Two-sided: the leader is picked as the best mean, so a one-sided test against it would
    # double its level (two equal configurations: one of them always leads).
    p = np.minimum(1.0, 2 * stats.t.sf(t, n - 1))
    exact = sd == 0.0  # identical differences: worse for certain when the gap is positive
    return np.where(exact, np.where(mean > 0, 0.0, 1.0), p)


def paired_p_worse(leader: FloatArray, other: FloatArray) -> float:
    """Paired t-test p-value (two-sided) that other differs from the leader (signed values)."""
    data = np.stack([np.asarray(leader, float), np.asarray(other, float)])[None]
    mean, sd, n = _paired(data, np.zeros(1, dtype=int))
    return float(_p_worse(mean, sd, n)[0, 1])


def upper_gap(leader: FloatArray, other: FloatArray, alpha: float) -> float:
    """One-sided (1 - alpha) upper confidence bound of mean(leader - other) over paired seeds."""
    diff = np.asarray(leader, float) - np.asarray(other, float)
    n = len(diff)
    if n < 2:
        return math.inf
    sd = float(np.std(diff, ddof=1))
    return float(np.mean(diff)) + float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)


@dataclass(frozen=True)
class LookResult:
    """One look: the leader, who is dropped, and whether the race stops here."""

    leader: int
    eliminated: list[int]
    stop: str | None


_NO_STOP, _ONE_LEFT, _TIED, _MAX_SEEDS = 0, 1, 2, 3
STOPS = {_ONE_LEFT: ONE_LEFT, _TIED: TIED, _MAX_SEEDS: MAX_SEEDS}


def look_batch(
    values: FloatArray,
    alive: np.ndarray[Any, Any],
    *,
    mode: Mode,
    alpha: float,
    margin: float,
    last: bool,
) -> tuple[Any, Any, Any]:
    """One look of many races at once: values (races x configurations x seeds), alive mask
    (races x configurations). Returns the leader, the eliminated mask and the stop code."""
    signed = _signed(np.asarray(values, dtype=np.float64), mode)
    means = np.where(alive, signed.mean(axis=2), -np.inf)
    leader = np.argmax(means, axis=1)
    mean, sd, n = _paired(signed, leader)
    rows = np.arange(len(leader))
    candidate = alive.copy()
    candidate[rows, leader] = False
    eliminated = _holm_batch(_p_worse(mean, sd, n), candidate, alpha)
    left = candidate & ~eliminated
    stop = np.full(len(leader), _NO_STOP)
    if last:
        stop[:] = _MAX_SEEDS
    if margin > 0 and n >= 2:
        upper = mean + float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)
        within = np.where(left, upper < margin, True).all(axis=1)
        stop[within] = _TIED
    stop[~left.any(axis=1)] = _ONE_LEFT
    return leader, eliminated, stop


def look(
    values: FloatArray, *, mode: Mode, alpha: float, margin: float, last: bool = False
) -> LookResult:
    """Decide one look over `values` (alive configurations x the round's common seeds).

    Indices refer to rows of `values`. alpha is this look's share of the level.
    """
    data = np.asarray(values, dtype=np.float64)[None]
    alive = np.ones(data.shape[:2], dtype=bool)
    leader, eliminated, stop = look_batch(
        data, alive, mode=mode, alpha=alpha, margin=margin, last=last
    )
    return LookResult(
        leader=int(leader[0]),
        eliminated=[int(i) for i in np.flatnonzero(eliminated[0])],
        stop=STOPS.get(int(stop[0])),
    )


@dataclass
class Race:
    """A race's course: seeds and alive count per round, and when each configuration left."""

    rounds: list[dict[str, int]] = field(default_factory=list)
    eliminated_after: list[int | None] = field(default_factory=list)
    stop: str | None = None
    n: list[int] = field(default_factory=list)

    @property
    def runs_used(self) -> int:
        """Runs the race spent (one per configuration and seed)."""
        return sum(self.n)


@dataclass(frozen=True)
class Races:
    """Many races at once: per race, when each configuration left (0: never), its seeds, why
    the race stopped, and the reported winner."""

    eliminated_after: np.ndarray[Any, Any]
    n: np.ndarray[Any, Any]
    stop: np.ndarray[Any, Any]
    winner: np.ndarray[Any, Any]

    @property
    def runs_used(self) -> np.ndarray[Any, Any]:
        """Runs each race spent."""
        return np.asarray(self.n.sum(axis=1))

    @property
    def decided(self) -> np.ndarray[Any, Any]:
        """Races that ended with one configuration left."""
        return np.asarray(self.stop == _ONE_LEFT)


def look_alpha(alpha: float, looks: int) -> float:
    """The level of one look: alpha spread evenly over the planned looks."""
    return alpha / max(1, looks)


def run_races(
    matrices: FloatArray,
    *,
    mode: Mode,
    totals: Sequence[int],
    alpha: float = ALPHA,
    margin: float = 0.0,
) -> Races:
    """Race over races x configurations x seeds, seeing a prefix of the seeds at each look.

    The job takes the same steps (look_batch through `look`) on what its runs reported; this
    replays whole races from matrices (seeds in order), for the simulations and run_race.
    """
    data = np.asarray(matrices, dtype=np.float64)
    races, k, _ = data.shape
    alive = np.ones((races, k), dtype=bool)
    going = np.ones(races, dtype=bool)
    out = np.zeros((races, k), dtype=int)
    n = np.zeros((races, k), dtype=int)
    stop = np.zeros(races, dtype=int)
    a = look_alpha(alpha, len(totals))
    for number, seeds in enumerate(totals, start=1):
        n[going[:, None] & alive] = seeds
        single = going & (alive.sum(axis=1) == 1)
        stop[single] = _ONE_LEFT
        going &= ~single
        if not going.any():
            break
        rows = np.flatnonzero(going)
        _, eliminated, code = look_batch(
            data[rows, :, :seeds],
            alive[rows],
            mode=mode,
            alpha=a,
            margin=margin,
            last=number == len(totals),
        )
        out[rows] = np.where(eliminated, number, out[rows])
        alive[rows] &= ~eliminated
        stop[rows] = code
        going[rows] = code == _NO_STOP
    signed = _signed(data, mode)
    cols = np.arange(data.shape[2])[None, None, :]
    with np.errstate(invalid="ignore"):
        own = np.where(cols < n[:, :, None], signed, 0.0).sum(axis=2) / np.maximum(n, 1)
    winner = np.argmax(np.where(alive, own, -np.inf), axis=1)
    return Races(eliminated_after=out, n=n, stop=stop, winner=winner)


def run_race(
    matrix: FloatArray,
    *,
    mode: Mode,
    totals: Sequence[int],
    alpha: float = ALPHA,
    margin: float = 0.0,
) -> Race:
    """One race over a configurations x seeds matrix (columns in seed order)."""
    data = np.asarray(matrix, dtype=np.float64)
    races = run_races(data[None], mode=mode, totals=totals, alpha=alpha, margin=margin)
    out = races.eliminated_after[0]
    n = [int(x) for x in races.n[0]]
    rounds = []
    for number, seeds in enumerate(totals, start=1):
        if number > 1 and all(x < seeds for x in n):
            break
        alive = sum(1 for e in out if e == 0 or e >= number)
        rounds.append({"seeds": int(seeds), "alive": alive})
    return Race(
        rounds=rounds,
        eliminated_after=[int(e) if e else None for e in out],
        stop=STOPS.get(int(races.stop[0])),
        n=n,
    )


def winner_index(matrix: FloatArray, race: Race, *, mode: Mode) -> int:
    """The reported winner: the best mean, over all its seeds, of the configurations left."""
    data = _signed(np.asarray(matrix, dtype=np.float64), mode)
    alive = [i for i, out in enumerate(race.eliminated_after) if out is None]
    means = [float(np.mean(data[i, : race.n[i]])) for i in alive]
    return alive[int(np.argmax(means))]


def _aligned(values: Sequence[Mapping[int, float]]) -> tuple[list[int], FloatArray]:
    """Seeds in order and a configurations x seeds matrix, NaN where a configuration has none."""
    seeds = sorted({s for per in values for s in per})
    column = {s: j for j, s in enumerate(seeds)}
    out = np.full((len(values), len(seeds)), np.nan)
    for i, per in enumerate(values):
        for s, v in per.items():
            out[i, column[s]] = v
    return seeds, out


def _ci95(sample: FloatArray) -> list[float] | None:
    n = len(sample)
    if n < 2:
        return None
    mean = float(np.mean(sample))
    half = float(stats.t.ppf(0.975, n - 1)) * float(np.std(sample, ddof=1)) / math.sqrt(n)
    return [mean - half, mean + half]


def bootstrap_best(
    matrix: FloatArray, *, mode: Mode, resamples: int = RESAMPLES, rng_seed: int = 0
) -> tuple[FloatArray, FloatArray]:
    """P(best) per configuration and each bootstrap's ranks, resampling seeds (columns) so every
    configuration draws the same seeds: the pairing is kept. NaN cells (seeds a configuration
    did not run) are left out of its mean; a resample that drew none of its seeds uses its
    plain mean."""
    data = _signed(np.asarray(matrix, dtype=np.float64), mode)
    k, s = data.shape
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, s, size=(resamples, s))
    drawn = data[:, idx]  # k x B x s
    present = ~np.isnan(drawn)
    counts = present.sum(axis=2)
    sums = np.where(present, drawn, 0.0).sum(axis=2)
    plain = np.nanmean(data, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), plain[:, None])
    # The bootstrap mean varies (n-1)/n as much as the mean does: widen it back (small n).
    widen = np.sqrt(np.maximum(counts, 2) / np.maximum(counts - 1, 1))
    means = plain[:, None] + (means - plain[:, None]) * widen
    best = np.argmax(means, axis=0)
    p_best = np.bincount(best, minlength=k) / resamples
    # Rank 1 = best; ties broken by index, as argmax does.
    ranks = np.argsort(np.argsort(-means, axis=0, kind="stable"), axis=0, kind="stable") + 1
    return p_best.astype(np.float64), ranks.astype(np.float64)


def seeds_to_decide(
    leader: FloatArray, others: Sequence[FloatArray], *, margin: float, alpha: float = ALPHA
) -> int | None:
    """Seeds per configuration a decision would need: for each contender, the fewer of the
    seeds to separate it from the leader (80% power at the observed gap, Holm's first step)
    and, with a margin, to show it within the margin; the most over contenders. None: never
    (no gap and no margin)."""
    if not others:
        return None
    z_power = float(stats.norm.ppf(POWER))
    z_sep = float(stats.norm.ppf(1 - alpha / len(others)))
    z_tie = float(stats.norm.ppf(1 - alpha))
    worst = 0
    for other in others:
        diff = leader - other
        n = len(diff)
        gap = float(np.mean(diff))
        sd = float(np.std(diff, ddof=1)) if n >= 2 else math.nan
        if not math.isfinite(sd):
            return None
        options = []
        if gap > 0:
            options.append(((z_sep + z_power) * sd / gap) ** 2)
        if margin > 0 and abs(gap) < margin:
            options.append(((z_tie + z_power) * sd / (margin - abs(gap))) ** 2)
        if not options:
            return None
        worst = max(worst, n + 1, math.ceil(min(options)))
    return min(worst, MAX_SEEDS_NEEDED)


def sweep_summary(
    values: Sequence[Mapping[int, float]],
    *,
    params: Sequence[Mapping[str, Any]],
    metric: str,
    mode: Mode,
    margin: float,
    rounds: Sequence[Mapping[str, int]],
    eliminated_after: Sequence[int | None],
    stop: str | None,
    seeds_planned: int,
    alpha: float = ALPHA,
    resamples: int = RESAMPLES,
    rng_seed: int = 0,
) -> dict[str, Any]:
    """The report's `sweep` section from each configuration's value per seed and the race.

    rounds and eliminated_after come from the race (run_race, or the job's stored rounds);
    stop is why it ended (None: still running, no conclusion yet). seeds_planned is the
    maximum seeds, for the full grid's run count.
    """
    k = len(values)
    if len(params) != k or len(eliminated_after) != k:
        raise ValueError("params, values and eliminated_after need one entry per configuration")
    seeds, matrix = _aligned(values)
    n = [int(np.sum(~np.isnan(matrix[i]))) for i in range(k)]
    means = [float(np.nanmean(matrix[i])) if n[i] else None for i in range(k)]
    ready = bool(seeds) and all(n)
    p_best: list[float | None] = [None] * k
    ranks: list[int | None] = [None] * k
    intervals: list[list[int] | None] = [None] * k
    if ready:
        p, boot_ranks = bootstrap_best(matrix, mode=mode, resamples=resamples, rng_seed=rng_seed)
        signed_means = [m if mode == "max" else -m for m in means if m is not None]
        order = sorted(range(k), key=lambda i: (-signed_means[i], i))
        for rank, i in enumerate(order, start=1):
            ranks[i] = rank
            p_best[i] = float(p[i])
            lo, hi = np.percentile(boot_ranks[i], [2.5, 97.5])
            intervals[i] = [math.floor(lo), math.ceil(hi)]
    configs = [
        {
            "params": dict(params[i]),
            "n": n[i],
            "mean": means[i],
            "ci95": _ci95(matrix[i][~np.isnan(matrix[i])]),
            "p_best": p_best[i],
            "rank": ranks[i],
            "rank_interval": intervals[i],
            "eliminated_after": eliminated_after[i],
        }
        for i in range(k)
    ]
    winner = _winner(matrix, params, n, means, mode, margin, rounds, eliminated_after, stop, alpha)
    return {
        "metric": metric,
        "mode": mode,
        "margin": margin,
        "alpha": alpha,
        "configs": configs,
        "winner": winner,
        "runs_used": int(sum(n)),
        "runs_full_grid": k * seeds_planned,
        "rounds": [{"seeds": int(r["seeds"]), "alive": int(r["alive"])} for r in rounds],
        "stop": stop,
    }


def _winner(
    matrix: FloatArray,
    params: Sequence[Mapping[str, Any]],
    n: list[int],
    means: list[float | None],
    mode: Mode,
    margin: float,
    rounds: Sequence[Mapping[str, int]],
    eliminated_after: Sequence[int | None],
    stop: str | None,
    alpha: float,
) -> dict[str, Any] | None:
    alive = [i for i, out in enumerate(eliminated_after) if out is None and n[i]]
    if stop is None or not alive:
        return None
    sign = 1.0 if mode == "max" else -1.0
    leader = max(alive, key=lambda i: (sign * (means[i] or 0.0), -i))
    seeds_at_stop = int(rounds[-1]["seeds"]) if rounds else n[leader]
    if len(alive) == 1:
        return {
            "params": dict(params[leader]),
            "conclusion": "decided",
            "seeds_needed": seeds_at_stop,
            "tied": [],
        }
    tied = [dict(params[i]) for i in sorted(alive, key=lambda i: -sign * (means[i] or 0.0))]
    if stop == TIED:
        return {
            "params": dict(params[leader]),
            "conclusion": "tied",
            "seeds_needed": seeds_at_stop,
            "tied": tied,
        }
    # Several left at the last look: compare on the seeds they all ran.
    common = ~np.isnan(matrix[alive]).any(axis=0)
    signed = sign * matrix[:, common]
    needed = seeds_to_decide(
        signed[leader], [signed[i] for i in alive if i != leader], margin=margin, alpha=alpha
    )
    return {
        "params": dict(params[leader]),
        "conclusion": "inconclusive",
        "seeds_needed": needed,
        "tied": tied,
    }


def sentence(section: Mapping[str, Any]) -> str:
    """The winner in one sentence, as the job page leads with it."""
    winner = section.get("winner")
    metric = section["metric"]
    if winner is None:
        return f"The sweep on {metric} is still racing: no conclusion yet."
    label = params_label(winner["params"])
    runs = f"{section['runs_used']} of {section['runs_full_grid']} full-grid runs"
    if winner["conclusion"] == "decided":
        return (
            f"{label} is the best on {metric} ({section['mode']}) beyond seed noise, "
            f"decided at {winner['seeds_needed']} seeds; {runs}."
        )
    others = len(winner.get("tied") or [])
    if winner["conclusion"] == "tied":
        return (
            f"{others} configurations are tied on {metric} within the margin "
            f"{section['margin']:g}; {label} has the best mean. {runs}."
        )
    needed = winner["seeds_needed"]
    more = f"about {needed} seeds would decide it" if needed else "no seed count would decide it"
    return (
        f"Inconclusive: {label} leads on {metric}, but {others} configurations cannot be "
        f"separated yet; {more}. {runs}."
    )


def params_label(params: Mapping[str, Any]) -> str:
    """'lr=0.001, units=16': a configuration's swept values in one short line."""
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"

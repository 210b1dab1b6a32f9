"""End to end: a sequential seed plan through a real server, a real agent and real TensorFlow."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tf

TARGET = 0.02
MAX_SEEDS = 7


@pytest.fixture
def system(shared_live: LiveSystem) -> LiveSystem:
    """The session's shared server and two agents (tests/conftest.py)."""
    return shared_live


def halfwidth(values: list[float]) -> float:
    n = len(values)
    return float(stats.t.ppf(0.975, n - 1)) * float(stats.tstd(values)) / math.sqrt(n)


def test_auto_plan_adds_rounds_until_the_target_or_the_cap(system: LiveSystem) -> None:
    result = system.cli(
        "submit", "seed_card_mlp", "--param", "n_samples=64", "--param", "n_val=32",
        "--param", "units=8", "--param", "epochs=2",
        "--seeds", "100:auto", "--until", f"val_loss.ci95_halfwidth<={TARGET}",
        "--max-seeds", str(MAX_SEEDS), "--wait", "--json",
    )
    assert result.returncode == 0, result.stderr + system.logs()
    report = json.loads(result.stdout)
    seq = report["sequential"]
    assert report["status"] == "succeeded" and seq["until"] == f"val_loss.ci95_halfwidth<={TARGET}"
    rounds = seq["rounds"]
    # The first round is five seeds; a second, if any, stops at the cap of seven.
    assert rounds[0]["seeds"] == 5 and 1 <= len(rounds) <= 2
    assert [r["seeds"] for r in rounds] == sorted({r["seeds"] for r in rounds})
    by_seed = {r["seed"]: r["final_metrics"]["val_loss"] for r in report["runs"]}
    assert sorted(by_seed) == list(range(100, 100 + rounds[-1]["seeds"]))
    assert all(r["status"] == "succeeded" and r["attempt"] == 1 for r in report["runs"])
    # Each round's half-width is what the real runs' val_loss gives over the seeds so far.
    for r in rounds:
        values = [by_seed[s] for s in range(100, 100 + r["seeds"])]
        assert r["halfwidth"] == pytest.approx(halfwidth(values), rel=1e-9)
    assert all(r["halfwidth"] > TARGET for r in rounds[:-1])  # no round after the target held
    last = rounds[-1]
    if last["halfwidth"] <= TARGET:
        assert seq["met"] is True and seq["reason"] == "target met"
    else:
        assert seq["met"] is False and seq["reason"] == "max seeds reached"
        assert last["seeds"] == MAX_SEEDS
    # The report's spread CI is the same half-width the plan stopped on.
    ci = report["metrics"]["val_loss"]["ci95"]
    assert (ci[1] - ci[0]) / 2 == pytest.approx(last["halfwidth"], rel=1e-9)
    status = system.cli("status", str(report["id"]), "--value", str(min(by_seed.values())),
                        "--metric", "val_loss")
    assert status.returncode == 0, status.stderr
    assert f"sequential: until val_loss.ci95_halfwidth<={TARGET}" in status.stdout
    # The lowest loss seen beats every other seed (val_loss: lower is better), ties half.
    n = len(by_seed)
    expected = 100.0 * (n - 0.5) / n
    assert f"falls at the {expected:.1f}th percentile of val_loss over {n} seeds" in status.stdout

"""A sweep end to end: real server, a real agent, TensorFlow on credit_risk_mlp. A learning
rate far too small is dropped after the first round, and the report's numbers are the pure
function's over the stored runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from seedlab.analysis.sweep import run_race, schedule, sweep_summary
from tests.livesystem import LiveSystem

REPO = Path(__file__).resolve().parents[2]
RATES = [1e-7, 0.003, 0.03]
MAX_SEEDS = 6

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    live = LiveSystem(
        tmp_path_factory.mktemp("e2e-sweep"),
        lease_seconds=60,
        # Its own backend first, so a worktree serves its own code rather than the installed one.
        extra_env={"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "backend")])},
    )
    live.start_server()
    live.start_agent("one")
    yield live
    live.stop()


def test_a_far_too_small_learning_rate_is_dropped_after_round_one(system: LiveSystem) -> None:
    result = system.cli(
        "sweep", "credit_risk_mlp", "--grid", "learning_rate=" + ",".join(map(str, RATES)),
        "--param", "epochs=3", "--param", "hidden_units=8", "--seeds", "42:auto",
        "--metric", "val_loss", "--max-seeds", str(MAX_SEEDS), "--wait", "--json",
        timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr + system.logs()
    assert "race 3 configurations" in result.stderr
    report = json.loads(result.stdout)
    section = report["sweep"]
    assert report["status"] == "succeeded" and section["mode"] == "min"  # a loss: lower wins
    configs = [{"learning_rate": rate} for rate in RATES]
    assert [c["params"] for c in section["configs"]] == configs
    assert section["configs"][0]["eliminated_after"] == 1
    runs = report["runs"]
    assert all(r["status"] == "succeeded" for r in runs)
    values: list[dict[int, float]] = [{} for _ in configs]
    for run in runs:
        index = [str(r) for r in RATES].index(run["variant"].split("=", 1)[1])
        values[index][run["seed"]] = run["final_metrics"]["val_loss"]
    assert sorted(values[0]) == [42, 43, 44, 45, 46]  # no seeds after round 1
    # The report is the pure function over the stored runs, number for number.
    expected = sweep_summary(
        values,
        params=configs,
        metric="val_loss",
        mode="min",
        margin=0.0,
        rounds=section["rounds"],
        eliminated_after=[c["eliminated_after"] for c in section["configs"]],
        stop=section["stop"],
        seeds_planned=MAX_SEEDS,
    )
    for key in ("configs", "winner", "runs_used", "runs_full_grid", "rounds", "stop"):
        assert section[key] == expected[key], key
    # The race the server ran is the one the pure race runs on these numbers.
    seeds = list(range(42, 42 + max(len(v) for v in values)))
    matrix = np.array([[v.get(s, np.nan) for s in seeds] for v in values])
    replay = run_race(matrix, mode="min", totals=schedule(MAX_SEEDS))
    assert replay.eliminated_after == [c["eliminated_after"] for c in section["configs"]]
    assert replay.rounds == section["rounds"]
    assert section["runs_used"] == len(runs) < section["runs_full_grid"] == 3 * MAX_SEEDS
    assert section["winner"]["params"]["learning_rate"] != 1e-7

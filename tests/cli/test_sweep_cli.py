"""`seedlab sweep` against the in-process app, with a stand-in agent finishing every round."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.cli import output as cli_output
from seedlab.cli import sweep as sweep_cli
from seedlab.config import Settings
from seedlab.db import Database
from tests.cli.support import InProcessClient, cli
from tests.factory import claim, finish, register_agent

Value = Callable[[dict[str, Any], int], float]


def clear(params: dict[str, Any], seed: int) -> float:
    """Units 32 is clearly best; 1 unit clearly worst; shared seed luck."""
    return float({1: 0.6, 8: 0.8, 32: 0.9}[params["units"]]) + 0.01 * (seed % 3)


def close(params: dict[str, Any], seed: int) -> float:
    """Two configurations the seeds cannot separate: a tiny gap under large, unshared noise."""
    noise = float(np.random.default_rng(seed * 1000 + params["units"]).normal()) * 0.02
    return 0.9 + noise + 0.0001 * int(params["units"])


def finish_everything(database: Database, settings: Settings, value: Value) -> None:
    """Play the agent: claim and finish every run, round after round, until none is queued."""
    agent = register_agent(database, "in-process")
    while True:
        claimed = []
        while (a := claim(database, settings, agent)) is not None:
            claimed.append(a)
        if not claimed:
            return
        for a in claimed:
            metrics = {"val_auc": value(a.params, a.seed), "val_loss": 0.3}
            finish(database, a.run_id, a.attempt, final_metrics=metrics)


def use(
    http: TestClient,
    database: Database,
    settings: Settings,
    value: Value,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = InProcessClient(http, lambda _job: finish_everything(database, settings, value))
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)


def test_sweep_races_prints_the_winner_and_the_gate_holds(
    http: TestClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(http, database, settings, clear, monkeypatch)
    runner = CliRunner()
    args = [
        "seed_card_mlp",
        "--grid",
        "units=1,8,32",
        "--param",
        "epochs=1",
        "--seeds",
        "42:auto",
        "--metric",
        "val_auc",
        "--max-seeds",
        "12",
        "--wait",
    ]
    result = runner.invoke(cli(sweep_cli.sweep), [*args, "--json", "--gate", "winner=decided"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    section = report["sweep"]
    assert section["winner"] == {
        "params": {"units": 32},
        "conclusion": "decided",
        "seeds_needed": 5,
        "tied": [],
    }
    assert section["runs_used"] == 15 and section["runs_full_grid"] == 36
    assert (
        "race 3 configurations" in result.stderr
        and "gate winner=decided: decided: held" in result.stderr
    )
    text = runner.invoke(cli(sweep_cli.sweep), args)
    assert text.exit_code == 0, text.output
    assert (
        "units=32 is the best on val_auc (max) beyond seed noise, decided at 5 seeds" in text.stdout
    )
    assert "rounds: 5 seeds x 3; runs 15 of 36 (full grid)" in text.stdout


def test_an_inconclusive_sweep_exits_3_with_the_seeds_it_would_need(
    http: TestClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(http, database, settings, close, monkeypatch)
    result = CliRunner().invoke(
        cli(sweep_cli.sweep),
        [
            "seed_card_mlp",
            "--grid",
            "units=8,9",
            "--seeds",
            "42:4",
            "--metric",
            "val_auc",
            "--wait",
            "--gate",
            "winner=decided",
        ],
    )
    assert result.exit_code == 3, result.output
    assert "Inconclusive" in result.stdout
    assert "seeds per configuration would decide" in result.stdout


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--grid", "units", "--metric", "m"], "--grid takes NAME=V1,V2"),
        (
            ["--grid", "units=1,2", "--metric", "m", "--gate", "winner=best", "--wait"],
            "winner=CONCLUSION",
        ),
        (["--grid", "units=1,2", "--metric", "m", "--gate", "winner=decided"], "needs --wait"),
        (["--grid", "units=1,2"], "--metric is required"),
        (["--metric", "m"], "at least one --grid"),
    ],
)
def test_bad_sweep_options_exit_2(args: list[str], text: str) -> None:
    result = CliRunner().invoke(cli(sweep_cli.sweep), ["seed_card_mlp", *args])
    assert result.exit_code == 2, result.output
    assert text in result.output


@pytest.mark.parametrize(
    ("status", "conclusion", "wanted", "code"),
    [
        ("succeeded", "decided", ("decided",), 0),
        ("succeeded", "tied", ("decided", "tied"), 0),
        ("succeeded", "tied", ("decided",), 1),
        ("succeeded", "inconclusive", ("decided",), 3),
        ("failed", None, ("decided",), 2),
    ],
)
def test_the_gate_exit_code_follows_the_winner_conclusion(
    status: str, conclusion: str | None, wanted: tuple[str, ...], code: int
) -> None:
    winner = None
    if conclusion is not None:
        winner = {"params": {"u": 1}, "conclusion": conclusion, "seeds_needed": 9, "tied": []}
    report = {"status": status, "sweep": {"winner": winner, "reason": "a run failed"}}
    got, line = sweep_cli.gate_code(report, wanted)
    assert got == code, line
    assert line.startswith(f"gate winner={','.join(wanted)}: ")

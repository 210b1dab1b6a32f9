"""`seedlab decompose`: states the plan, submits, waits, prints the decomposition."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.analysis.seedscience import decompose_variance
from seedlab.cli import app
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from tests.cli.support import InProcessClient, run_everything

PLAN = "decompose credit_risk_mlp: 4 groups \u00d7 3 runs + 3 all-vary = 15 runs"


def _value(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    # The seed (init) moves the metric; same-seed repeats are bit-identical.
    return {"val_auc": 0.9 + 0.01 * (seed - 42) ** 2, "loss": 0.3}, f"w{seed}"


@pytest.fixture
def in_process(
    http: TestClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> InProcessClient:
    client = InProcessClient(http, lambda _job: run_everything(database, settings, _value))
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
    return client


def test_decompose_states_the_plan_waits_and_reports(
    in_process: InProcessClient, http: TestClient
) -> None:
    result = CliRunner().invoke(
        app,
        ["decompose", "credit_risk_mlp", "--param", "epochs=1", "--seeds", "42:3", "--wait",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PLAN in result.stderr and "job 1: succeeded (15/15 runs done)" in result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "decompose" and report["params"]["epochs"] == 1
    section = report["decomposition"]["val_auc"]
    assert list(section["sources"]) == ["init", "order", "split", "kernels"]
    groups: dict[str, list[float]] = {}
    for run in report["runs"]:
        groups.setdefault(run["variant"], []).append(run["final_metrics"]["val_auc"])
    vary = groups.pop("all_vary")
    assert section == decompose_variance(groups, all_vary=vary).to_dict()
    # Only the init seed moved the metric here: init takes it all.
    assert section["sources"]["init"]["share"] == 1.0
    assert section["sources"]["kernels"]["share"] == 0.0
    status = CliRunner().invoke(app, ["status", str(report["id"]), "--json"])
    assert json.loads(status.stdout)["decomposition"] == report["decomposition"]
    text = CliRunner().invoke(app, ["status", str(report["id"])])
    assert "variance of val_auc: init 100% [" in text.stdout
    assert "data order 0% [0, 0], split 0% [0, 0], kernels 0% [0, 0]" in text.stdout


def test_decompose_text_prints_the_plan_first_and_errors_name_the_form(
    in_process: InProcessClient,
) -> None:
    result = CliRunner().invoke(app, ["decompose", "seed_card_mlp", "--seeds", "42:2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "decompose seed_card_mlp: 3 groups \u00d7 2 runs + 2 all-vary = 8 runs"
    assert lines[1] == "job 1 queued"
    bad = CliRunner().invoke(app, ["decompose", "seed_card_mlp", "--seeds", "42:3x2"])
    assert bad.exit_code == 2
    assert "'BASE:M'" in bad.output

"""`seedlab submit --seeds 42:auto --until ... --max-seeds` and `seedlab status --value` against
the in-process app, with a stand-in agent finishing every round."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from scipy import stats
from typer.testing import CliRunner

from seedlab.cli import jobs as jobs_cli
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from tests.cli.support import InProcessClient, cli, run_everything


# Wide: alternating 0.85 / 0.95 never gets the half-width under 0.002 within 8 seeds.
def wide(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    return {"val_auc": 0.9 + (0.05 if seed % 2 else -0.05), "val_loss": 0.3}, f"w{seed}"


@pytest.fixture
def app(http: TestClient, database: Database, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = InProcessClient(http, lambda _job: run_everything(database, settings, wide))
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)


def test_submit_auto_plan_runs_rounds_until_the_cap(app: None) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "42:auto", "--until", "val_auc.ci95_halfwidth<=0.002",
         "--max-seeds", "8", "--wait", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    seq = report["sequential"]
    assert seq["until"] == "val_auc.ci95_halfwidth<=0.002" and seq["max_seeds"] == 8
    assert seq["met"] is False and seq["reason"] == "max seeds reached"
    assert [r["seeds"] for r in seq["rounds"]] == [5, 8]
    assert report["metrics"]["val_auc"]["n"] == 8
    text = runner.invoke(cli(jobs_cli.status), [str(report["id"])])
    assert text.exit_code == 0, text.output
    assert ("sequential: until val_auc.ci95_halfwidth<=0.002 (max 8 seeds), not met: "
            "max seeds reached; half-width by round: 5 seeds -> ") in text.stdout


def test_submit_refuses_a_bad_until(app: None) -> None:
    result = CliRunner().invoke(
        cli(jobs_cli.submit),
        ["seed_card_mlp", "--seeds", "42:auto", "--until", "val_auc>0.9"],
    )
    assert result.exit_code != 0
    assert "METRIC.ci95_halfwidth<=NUMBER" in result.output


def test_status_value_prints_percentile_and_seeds_needed(app: None) -> None:
    runner = CliRunner()
    submitted = runner.invoke(cli(jobs_cli.submit), ["seed_card_mlp", "--seeds", "1:4x1",
                                                     "--wait", "--json"])
    assert submitted.exit_code == 0, submitted.output
    job_id = json.loads(submitted.stdout[submitted.stdout.index("{"):])["id"]
    result = runner.invoke(
        cli(jobs_cli.status),
        [str(job_id), "--value", "0.912", "--metric", "val_auc", "--halfwidth", "0.01",
         "--difference", "0.05"],
    )
    assert result.exit_code == 0, result.output
    pct = stats.percentileofscore([0.95, 0.85, 0.95, 0.85], 0.912, kind="mean")
    assert pct == 50.0
    assert ("0.912 falls at the 50.0th percentile of val_auc over 4 seeds (higher is better): "
            "it beats 50.0% of the seeds") in result.stdout
    assert "seeds for a 95% CI half-width of 0.01" in result.stdout
    assert "seeds per job to detect a difference of 0.05 at 80% power" in result.stdout
    as_json = runner.invoke(cli(jobs_cli.status), [str(job_id), "--value", "0.96", "--json"])
    assert json.loads(as_json.stdout)["percentile"]["percentile"] == 100.0
    alone = runner.invoke(cli(jobs_cli.status), [str(job_id), "--metric", "val_auc"])
    assert alone.exit_code != 0 and "give --value too" in alone.output

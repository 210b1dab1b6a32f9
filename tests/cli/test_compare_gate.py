"""`seedlab compare ... --gate` and `--baseline label:NAME` against the in-process app."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.cli import diagnosis
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.jobs.models import Job
from tests.cli.support import InProcessClient, cli
from tests.compare.test_service import make_job

MAIN = [0.910, 0.920, 0.930, 0.900, 0.920]
SAME = [0.911, 0.919, 0.930, 0.901, 0.920]
WORSE = [0.880, 0.890, 0.900, 0.870, 0.890]
BETTER = [0.950, 0.960, 0.970, 0.940, 0.960]


@pytest.fixture
def http(http: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The conftest's app, with the CLI's client sent to it."""
    proxy = InProcessClient(http)
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: proxy)
    return http


def job(
    database: Database, settings: Settings, aucs: Sequence[float], *, label: str | None = None,
    params: dict[str, Any] | None = None, status: str = "succeeded",
) -> int:
    """A finished job of seed_card_mlp with one val_auc per seed."""
    job_id = make_job(database, settings, [{"val_auc": v} for v in aucs],
                      seeds=f"1:{len(aucs)}x1")
    with database.write() as session:
        row = session.get(Job, job_id)
        assert row is not None
        row.status, row.label, row.params = status, label, params or row.params
    return job_id


def compare(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli(diagnosis.compare), [*args, "--metric", "val_auc"], env=env)


def test_not_worse_holds_fails_and_is_inconclusive(
    http: TestClient, database: Database, settings: Settings
) -> None:
    base = job(database, settings, MAIN)
    same = job(database, settings, SAME)
    worse = job(database, settings, WORSE)
    held = compare(str(base), str(same), "--gate", "not_worse:0.02")
    assert held.exit_code == 0, held.output
    assert held.output.count("PASS not_worse:0.02: measured ") == 1
    failed = compare(str(base), str(worse), "--gate", "not_worse:0.002", "--format", "github")
    assert failed.exit_code == 1, failed.output
    assert "::error title=seedlab compare::FAIL not_worse:0.002: measured -0.0" in failed.output
    # Equal means, so the observed difference clears -0.002 but the CI is far wider.
    unsure = compare(str(base), str(same), "--gate", "not_worse:0.002")
    assert unsure.exit_code == 3, unsure.output
    assert "seeds per job would decide" in unsure.output


def test_better(http: TestClient, database: Database, settings: Settings) -> None:
    base = job(database, settings, MAIN)
    assert compare(str(base), str(job(database, settings, BETTER)), "--gate", "better"
                   ).exit_code == 0
    assert compare(str(base), str(job(database, settings, WORSE)), "--gate", "better"
                   ).exit_code == 1


def test_one_seed_is_inconclusive(
    http: TestClient, database: Database, settings: Settings
) -> None:
    base = job(database, settings, MAIN)
    single = job(database, settings, [0.95])
    result = compare(str(base), str(single), "--gate", "better")
    assert result.exit_code == 3, result.output
    assert "have 5 (A) and 1 (B); 2 seeds each would decide" in result.output


def test_malformed_gate_and_bad_baseline_are_exit_2(
    http: TestClient, database: Database, settings: Settings
) -> None:
    base = job(database, settings, MAIN)
    bad = compare(str(base), str(base), "--gate", "not_worse")
    assert bad.exit_code == 2 and "not_worse:MARGIN" in bad.output
    assert compare(str(base), "--baseline", "main").exit_code == 2
    none = compare(str(base), "--baseline", "label:main")
    assert none.exit_code == 2 and "no succeeded job labelled 'main'" in none.output
    unknown = CliRunner().invoke(
        cli(diagnosis.compare), [str(base), str(base), "--metric", "val_acc", "--gate", "better"]
    )
    assert unknown.exit_code == 2
    assert f"job {base} has no final metric 'val_acc'; it has: val_auc" in unknown.output


def test_baseline_label_picks_the_latest_main_job_with_same_params(
    http: TestClient, database: Database, settings: Settings, tmp_path: Path
) -> None:
    params = {"n_samples": 64, "epochs": 1}
    old_main = job(database, settings, WORSE, label="main", params=params)
    main = job(database, settings, MAIN, label="main", params=params)
    job(database, settings, BETTER, label="main", params={"n_samples": 32, "epochs": 1})
    job(database, settings, BETTER, label="main", params=params, status="failed")
    candidate = job(database, settings, [v - 0.001 for v in MAIN], label="pr-7", params=params)
    junit = tmp_path / "compare.xml"
    summary = tmp_path / "summary.md"
    result = compare(
        str(candidate), "--baseline", "label:main", "--gate", "not_worse:0.02", "--gate",
        "better", "--junit", str(junit), "--json", env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.exit_code == 1, result.output  # not worse, but not better either
    body = json.loads(result.stdout)
    assert (body["a"]["job_id"], body["b"]["job_id"]) == (main, candidate)
    assert old_main != main
    assert [g["outcome"] for g in body["gates"]] == ["held", "failed"]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    text = summary.read_text()
    assert f"job {candidate} against baseline job {main} on val_auc" in text
    assert "| `better` | ❌ fail |" in text

"""Run bundles, `seedlab replay` and `seedlab replay-best` against the in-process app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seedlab.cli import output as cli_output
from seedlab.cli import replay as replay_cli
from seedlab.config import Settings
from seedlab.db import Database
from tests.cli.support import InProcessClient, Outcome, cli, run_everything
from tests.factory import BASE

AUC = {1: 0.90, 2: 0.97, 3: 0.93, 4: 0.95}


def same(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    return {"val_auc": AUC[seed], "val_loss": 1 - AUC[seed]}, f"w{seed}"


def other(seed: int, repeat: int) -> tuple[dict[str, float], str]:
    return {"val_auc": AUC[seed] + 1e-9, "val_loss": 1 - AUC[seed]}, f"x{seed}"


@pytest.fixture
def agents(
    http: TestClient, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> list[Outcome]:
    chosen: list[Outcome] = [same]
    client = InProcessClient(http, lambda _job: run_everything(database, settings, chosen[0]))
    monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
    return chosen


def original_job(http: TestClient, database: Database, settings: Settings) -> dict:  # type: ignore[type-arg]
    job = http.post("/api/v1/jobs", json={"experiment": "seed_card_mlp", "seeds": "1:4x1",
                                          "params": {"n_samples": 64, "epochs": 1},
                                          "profile": {"preset": "full", "env": {"TF_X": "1"}}})
    assert job.status_code == 201, job.text
    run_everything(database, settings, same)
    report: dict = http.get(f"/api/v1/jobs/{job.json()['id']}/report").json()  # type: ignore[type-arg]
    return report


def test_bundle_has_everything_to_run_again(
    http: TestClient, database: Database, settings: Settings
) -> None:
    report = original_job(http, database, settings)
    run = report["runs"][1]
    bundle = http.get(f"/api/v1/runs/{run['id']}/bundle").json()
    assert bundle["experiment"] == {"name": "seed_card_mlp",
                                    "version": report["experiment_version"],
                                    "source_hash": BASE["experiment"]["source_hash"]}
    assert bundle["params"] == report["params"] and bundle["seed"] == run["seed"]
    assert bundle["profile"]["env"] == {"TF_X": "1"} and bundle["profile"]["op_determinism"]
    assert bundle["applied_profile"]["seed"] == run["seed"]
    assert bundle["data_hashes"] == {"data_hash": BASE["data_hash"]}
    assert bundle["fingerprint"] == BASE and bundle["fingerprint_hash"] == run["fingerprint_hash"]
    assert bundle["final_metrics"] == run["final_metrics"]
    assert bundle["weights_checksum"] == f"w{run['seed']}"
    assert http.get("/api/v1/runs/999/bundle").status_code == 404


def test_replay_run_id_bit_identical(
    http: TestClient, database: Database, settings: Settings, agents: list[Outcome]
) -> None:
    run = original_job(http, database, settings)["runs"][2]
    result = CliRunner().invoke(cli(replay_cli.replay), [str(run["id"]), "--wait", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["bitwise"] is True and body["run_id"] != run["id"]
    replayed = http.get(f"/api/v1/jobs/{body['job_id']}").json()
    assert replayed["seeds"] == [run["seed"]] and replayed["repeats"] == 1
    assert replayed["profile"]["env"] == {"TF_X": "1"}
    assert replayed["label"] == f"replay of run {run['id']}"


def test_replay_not_identical_shows_the_difference(
    http: TestClient, database: Database, settings: Settings, agents: list[Outcome]
) -> None:
    run = original_job(http, database, settings)["runs"][0]
    agents[0] = other
    result = CliRunner().invoke(cli(replay_cli.replay), [str(run["id"]), "--wait"])
    assert result.exit_code == 1, result.output
    assert "NOT bit-identical" in result.output
    assert "identical environments" in result.output  # same fingerprint: the code differs
    assert "first divergence" in result.output
    as_json = CliRunner().invoke(cli(replay_cli.replay), [str(run["id"]), "--wait", "--json"])
    body = json.loads(as_json.stdout)
    assert body["bitwise"] is False
    assert body["weights_checksum"] == {"original": "w1", "replay": "x1"}


def test_bundle_file_from_another_environment_gives_a_diff(
    http: TestClient, database: Database, settings: Settings, agents: list[Outcome],
    tmp_path: Path,
) -> None:
    run = original_job(http, database, settings)["runs"][0]
    bundle = http.get(f"/api/v1/runs/{run['id']}/bundle").json()
    bundle["fingerprint"]["env"]["TF_ENABLE_ONEDNN_OPTS"] = "0"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(cli(replay_cli.replay), [str(path), "--wait", "--json"])
    assert result.exit_code == 0, result.output  # the bits agree, the environments do not
    body = json.loads(result.stdout)
    assert body["bitwise"] is True
    assert [f["name"] for f in body["diff"]["fields"]] == ["env.TF_ENABLE_ONEDNN_OPTS"]
    assert body["diff"]["fields"][0]["a"] == "0" and body["diff"]["fields"][0]["b"] is None


def test_bundle_errors_name_what_differs(
    http: TestClient, database: Database, settings: Settings, agents: list[Outcome],
    tmp_path: Path,
) -> None:
    run = original_job(http, database, settings)["runs"][0]
    bundle = http.get(f"/api/v1/runs/{run['id']}/bundle").json()
    path = tmp_path / "bundle.json"
    for change, message in (
        ({"name": "credit_risk_v9"}, "experiment 'credit_risk_v9' of the bundle is not known"),
        ({"version": "7"}, "the bundle ran version 7, http://127.0.0.1:8000 runs version "
         f"{bundle['experiment']['version']}"),
        ({"source_hash": "ff" * 32}, f"the bundle's source hash is {'ff' * 32}, run "),
    ):
        path.write_text(json.dumps({**bundle, "experiment": {**bundle["experiment"], **change}}))
        result = CliRunner().invoke(cli(replay_cli.replay), [str(path), "--wait"])
        assert result.exit_code == 2, result.output
        assert message in result.output
    missing = CliRunner().invoke(cli(replay_cli.replay), [str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "neither a run id nor a bundle file" in missing.output


def test_replay_best(
    http: TestClient, database: Database, settings: Settings, agents: list[Outcome]
) -> None:
    report = original_job(http, database, settings)
    result = CliRunner().invoke(
        cli(replay_cli.replay_best),
        [str(report["id"]), "--metric", "val_auc", "--k", "2", "--wait", "--json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [row["seed"] for row in body["seeds"]] == [2, 4]
    assert all(row["reproduced"] and row["difference"] == 0 for row in body["seeds"])
    job = http.get(f"/api/v1/jobs/{body['job_id']}").json()
    assert job["profile_name"] == "full" and job["label"] == f"replay of job {report['id']}"
    # Lower is better for a loss: the two lowest val_loss are the two highest val_auc.
    agents[0] = other
    loss = CliRunner().invoke(
        cli(replay_cli.replay_best),
        [str(report["id"]), "--metric", "val_loss", "--k", "1", "--wait"],
    )
    assert loss.exit_code == 1, loss.output
    assert "seed 2: DIFFERS (weights differ" in loss.output
    bad = CliRunner().invoke(cli(replay_cli.replay_best), [str(report["id"]), "--metric", "f1"])
    assert bad.exit_code == 2 and "has no succeeded run with a final 'f1'" in bad.output

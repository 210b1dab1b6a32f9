"""`seedlab export mlflow` against a real MLflow tracking server, read back with its client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

import seedlab.cli as seedlab_cli
from seedlab.app import create_app
from seedlab.cli import output as cli_output
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.profiles import TOGGLES
from tests.cli.support import InProcessClient, run_everything
from tests.livesystem import free_port

AUC = {1: 0.981, 2: 0.983}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` on a free loopback port with a SQLite backend, killed at the end."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "server.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--default-artifact-root", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start:\n" + (root / "server.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def job_id(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[int]:
    """A finished job (2 seeds x 2 repeats, 3-epoch curves), served by the in-process app."""
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as http:
        client = InProcessClient(http)
        monkeypatch.setattr(cli_output, "SeedlabClient", lambda *_a, **_k: client)
        job = http.post("/api/v1/jobs", json={
            "experiment": "seed_card_mlp", "seeds": "1:2x2", "label": "main",
            "params": {"n_samples": 64, "epochs": 3},
            "profile": {"preset": "full", "op_determinism": False},
        }).json()
        run_everything(
            database, settings,
            lambda seed, _repeat: ({"val_auc": AUC[seed]}, f"w{seed}"), epochs=3,
        )
        yield int(job["id"])


def test_export_parent_and_nested_runs_without_duplicates(
    mlflow_server: str, job_id: int, tmp_path: Path
) -> None:
    args = [str(job_id), "--tracking-uri", mlflow_server, "--experiment",
            f"seedlab-test-{tmp_path.name}", "--json"]
    first = CliRunner().invoke(seedlab_cli.app, ["export", "mlflow", *args])
    assert first.exit_code == 0, first.output
    assert first.stdout.lstrip().startswith("{"), first.stdout[:2000]
    exported = json.loads(first.stdout)
    again = CliRunner().invoke(seedlab_cli.app, ["export", "mlflow", *args])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == exported, "the same runs were updated"

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name(f"seedlab-test-{tmp_path.name}")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 5, "one parent and one nested run per seedlab run, exported twice"

    parent = client.get_run(exported["parent_run_id"])
    assert parent.data.tags["verdict"] == "bitwise"
    assert parent.data.tags["seedlab.job_id"] == str(job_id)
    assert parent.data.params["seed_plan"] == "1:2x2"
    assert parent.data.params["profile"] == "full+custom"
    assert parent.data.params["op_determinism"] == "false"
    assert parent.data.params["n_samples"] == "64"
    assert parent.data.metrics["val_auc_mean"] == pytest.approx(0.982)
    assert parent.data.metrics["val_auc_n"] == 2
    assert "val_auc_std" in parent.data.metrics and "val_auc_ci95_low" in parent.data.metrics
    assert parent.info.status == "FINISHED"

    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(nested) == 4
    by_id = {int(r.data.tags["seedlab.run_id"]): r for r in nested}
    assert {str(k): v.info.run_id for k, v in by_id.items()} == exported["runs"]
    for run in nested:
        params = run.data.params
        assert set(TOGGLES) <= set(params)
        assert params["seed"] in ("1", "2") and params["python_hashseed"] == "0"
        assert params["op_determinism"] == "true"  # what the run process recorded applying
        assert run.data.tags["weights_checksum"] == f"w{params['seed']}"
        assert len(run.data.tags["fingerprint_hash"]) == 64
        history = client.get_metric_history(run.info.run_id, "val_auc")
        # Exported twice, logged once: three epochs with their steps.
        assert [(m.step, m.value) for m in history] == [
            (1, pytest.approx(AUC[int(params["seed"])] - 0.02)),
            (2, pytest.approx(AUC[int(params["seed"])] - 0.01)),
            (3, AUC[int(params["seed"])]),
        ]
        assert run.data.metrics["final_val_auc"] == AUC[int(params["seed"])]

"""`seedlab check`: a short real run checked against the contract, each gap named with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

EXPERIMENTS = '''
import keras
import numpy as np
from pydantic import BaseModel, Field

from seedlab import RunContext, experiment


class Params(BaseModel):
    epochs: int = Field(5, ge=1, le=50)


@experiment(name="does_nothing", params=Params)
def does_nothing(params: Params, ctx: RunContext) -> None:
    """Trains nothing and reports nothing."""


@experiment(name="no_data_hash", params=Params)
def no_data_hash(params: Params, ctx: RunContext) -> None:
    """A custom loop that logs metrics and weights but never records its data."""
    x = np.linspace(0, 1, 16, dtype="float32").reshape(8, 2)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    ctx.set_epochs(params.epochs)
    for epoch in range(1, params.epochs + 1):
        loss = float(np.mean(model(x).numpy() ** 2))
        ctx.log(epoch, model=model, loss=loss)
'''


def _check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "backend"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "check", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "contract_models.py").write_text(textwrap.dedent(EXPERIMENTS))
    return tmp_path


@pytest.mark.tf
def test_an_experiment_that_reports_nothing_fails_every_check(project: Path) -> None:
    result = _check(project, "does_nothing", "--experiments", "./contract_models.py")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "(epochs capped at 2 for the check" in out
    assert (
        "MISSING  run finished: the run failed: RuntimeError: the experiment reported no epoch"
        in out
    )
    assert "MISSING  metrics reported: no metrics: train with model.fit(...)" in out
    assert "MISSING  epochs declared: epochs not declared" in out
    assert (
        "MISSING  data hash recorded: no data hash: call ctx.record_data(x, y) before training, "
        "or train with model.fit(x, y)" in out
    )
    assert "MISSING  weights found: no weights checksum" in out
    assert "5 check(s) missing" in out


@pytest.mark.tf
def test_a_missing_data_hash_is_the_one_gap_named(project: Path) -> None:
    result = _check(
        project, "no_data_hash", "--param", "epochs=3", "--experiments", "contract_models.py"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "ok       run finished: 3 epoch(s)" in out  # the given epochs are not capped
    assert "ok       metrics reported: loss" in out
    assert "ok       epochs declared: 3 epochs" in out
    assert "ok       weights found: checksum " in out
    assert "MISSING  data hash recorded: no data hash" in out
    assert "1 check(s) missing: data hash recorded" in out


def test_an_unknown_experiment_exits_2_and_lists_the_known_ones(project: Path) -> None:
    (project / "broken_models.py").write_text("import no_such_dependency_xyz\n")
    result = _check(project, "no_such_experiment", "-e", "./broken_models.py")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "error: unknown experiment 'no_such_experiment' (a source failed to load" in result.stderr
    )
    assert "known experiments: credit_risk_mlp, digits_cnn," in result.stderr
    # The failed source is named on stderr with its error, before the verdict.
    assert f"FAILED file {project / 'broken_models.py'}: ModuleNotFoundError" in result.stderr


def test_invalid_parameters_exit_2_naming_the_field(project: Path) -> None:
    result = _check(project, "seed_card_mlp", "--param", "epochs=0")
    assert result.returncode == 2
    assert "invalid parameters for seed_card_mlp: epochs: Input should be greater" in result.stderr

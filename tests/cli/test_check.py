"""`seedlab check`: a short real run checked against the contract, each gap named with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from seedlab.cli.check import evaluate

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


CRASHING_SCRIPT = """
import json


def train():
    print(json.dumps({"epoch": 1, "epochs": 2, "loss": 0.5}), flush=True)
    raise ValueError("bad batch shape")


train()
"""


def test_a_crashing_script_is_one_failed_line_with_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "seedlab.toml").write_text('[experiments.crasher]\ncommand = "python train.py"\n')
    (tmp_path / "train.py").write_text(CRASHING_SCRIPT)
    result = _check(tmp_path, "crasher")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    marked = [line for line in lines if line.startswith("  ") and not line.startswith("    ")]
    assert marked == [
        "  FAILED   run finished: the script failed: ValueError: bad batch shape (after 1 epoch(s))"
    ], result.stdout
    assert "MISSING" not in result.stdout
    # The traceback's last lines, under the one line: where it failed, not the error again.
    tail = lines[lines.index(marked[0]) + 1 : -1]
    assert f'File "{tmp_path / "train.py"}", line 7, in train' in "\n".join(tail)
    assert tail[-1].strip() == 'raise ValueError("bad batch shape")'
    assert lines[-1].startswith("the run failed, so nothing else was checked (")


# What a command script's run sends, as the evaluation reads it (events of runner/command.py).
TORCH_FINGERPRINT = {"tensorflow": None, "frameworks": {"torch": {"version": "2.13.0"}}}
KERAS_JAX_FINGERPRINT = {"tensorflow": None, "frameworks": {"keras": {"backend": "jax"}}}


def _script_events(fingerprint: dict[str, Any], **done: Any) -> list[dict[str, Any]]:
    epoch = {"event": "epoch", "epoch": 1, "metrics": {"loss": 0.5}, "seconds": 0.1}
    return [
        {"event": "applied", "profile": {}},
        epoch,
        {"event": "fingerprint", "hash": "h", "data": {**fingerprint, "data_hash": None}},
        {"event": "done", "data_hash": None, **done},
    ]


def test_a_script_without_keras_gets_a_note_not_a_missing_data_hash() -> None:
    checks = evaluate(
        _script_events(TORCH_FINGERPRINT, weights_checksum="ab" * 32), 0, command=True
    )
    data = next(c for c in checks if c.name.startswith("data hash"))
    assert (data.mark, data.counted) == ("info", False)
    assert data.detail.startswith("not asked: the script used PyTorch, never Keras; a script has")
    # Epochs were not declared: the advice is a script's, never ctx's.
    assert [c.name for c in checks if not c.ok] == ["epochs declared"]
    assert all("ctx." not in c.detail for c in checks)
    assert 'add "epochs": N' in next(c for c in checks if c.name == "epochs declared").detail


def test_a_keras_script_is_still_asked_for_its_data_hash_in_a_scripts_words() -> None:
    checks = evaluate(_script_events(KERAS_JAX_FINGERPRINT), 0, command=True)
    missing = {c.name: c.detail for c in checks if not c.ok}
    assert set(missing) == {"epochs declared", "data hash recorded", "weights found"}
    assert missing["data hash recorded"].startswith("no data hash: pass in-memory arrays to Keras")
    assert '"weights_checksum"' in missing["weights found"]
    assert all("ctx." not in detail for detail in missing.values())
    # A decorated experiment keeps ctx's advice.
    decorated = {c.name: c.detail for c in evaluate(_script_events(KERAS_JAX_FINGERPRINT), 0)}
    assert decorated["data hash recorded"].startswith("no data hash: call ctx.record_data(x, y)")


def test_a_failed_script_is_one_check() -> None:
    events = [{"event": "error", "error": "ValueError: bad\nshape", "traceback": "..."}]
    assert [(c.mark, c.detail) for c in evaluate(events, 1, command=True)] == [
        ("FAILED", "the script failed: ValueError: bad shape")
    ]
    assert len(evaluate(events, 1)) == 5  # a decorated experiment's run: every check, as before

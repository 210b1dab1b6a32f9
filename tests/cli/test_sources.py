"""`seedlab experiments --local`: every source as loaded or FAILED, every experiment's version."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD = """
from pydantic import BaseModel, Field

from seedlab import experiment


class Params(BaseModel):
    epochs: int = Field(4, ge=1)


@experiment(name="local_good", params=Params, version="2")
def train(params, ctx):
    '''A good one.'''
"""


def _seedlab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seedlab.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO / "backend")},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_local_listing_says_what_loaded_and_what_failed(tmp_path: Path) -> None:
    (tmp_path / "good_models.py").write_text(GOOD)
    (tmp_path / "bad_models.py").write_text("x = 1 / 0\n")
    result = _seedlab(
        tmp_path, "experiments", "--local", "-e", "./good_models.py", "--experiments",
        "bad_models.py", "-e", "missing_pkg.models",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    digest = hashlib.sha256((tmp_path / "good_models.py").read_bytes()).hexdigest()[:12]
    assert lines[0].startswith("loaded builtin (8 experiments: seed_card_mlp, ")
    assert lines[1] == f"loaded file {tmp_path / 'good_models.py'} (1 experiment: local_good)"
    assert lines[2] == (
        f"FAILED file {tmp_path / 'bad_models.py'}: ZeroDivisionError: division by zero "
        f"(at {tmp_path / 'bad_models.py'}:1); the module raised while it was imported"
    )
    assert lines[3].startswith("FAILED module missing_pkg.models: ModuleNotFoundError: ")
    assert "is it on PYTHONPATH of the agent?" in lines[3]
    assert (
        f"local_good (v2+{digest}, file {tmp_path / 'good_models.py'}): A good one." in lines
    )
    as_json = json.loads(
        _seedlab(tmp_path, "experiments", "--local", "-e", "./good_models.py", "--json").stdout
    )
    (advert,) = [e for e in as_json["experiments"] if e["name"] == "local_good"]
    assert advert["defaults"] == {"epochs": 4} and advert["version"] == f"2+{digest}"
    assert all(status["ok"] for status in as_json["sources"])


def test_experiments_from_the_environment_and_the_flag_needs_local(tmp_path: Path) -> None:
    (tmp_path / "good_models.py").write_text(GOOD)
    result = subprocess.run(
        [sys.executable, "-m", "seedlab.cli", "experiments", "--local"],
        env={
            **os.environ,
            "PYTHONPATH": str(REPO / "backend"),
            "SEEDLAB_EXPERIMENT_SOURCES": "./good_models.py",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "(1 experiment: local_good)" in result.stdout
    misuse = _seedlab(tmp_path, "experiments", "-e", "./good_models.py")
    assert misuse.returncode == 2 and "--experiments needs --local" in misuse.stderr

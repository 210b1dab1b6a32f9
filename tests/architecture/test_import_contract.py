"""The import contract in pyproject.toml holds; a deliberate violation of each kind breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _lint(package_parent: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None if package_parent is None else {"PYTHONPATH": str(package_parent), "PATH": ""}
    return subprocess.run(
        [sys.executable, "-c", LINT, str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )


def test_the_code_keeps_every_contract() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("jobs/service.py", "import tensorflow", "TensorFlow and Keras are imported only under"),
        # The server and the agent stay free of PyTorch and JAX (issue 22).
        ("queue/service.py", "import torch", "TensorFlow and Keras are imported only under"),
        ("agent/worker.py", "import jax", "TensorFlow and Keras are imported only under"),
        ("analysis/spread.py", "import fastapi", "analysis/ is pure"),
        ("charts/overlay.py", "from seedlab.runs import service", "charts/ imports only"),
        ("jobs/service.py", "from seedlab.pages import jobs", "domain packages return data"),
        ("queue/service.py", "from seedlab.runner import launcher", "never imports the run"),
        # runs/ is imported by jobs/; an import back inside a function still counts.
        ("runs/service.py", "def _late():\n    from seedlab.jobs import service", "no cycles"),
    ],
)
def test_a_violation_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    copy = tmp_path / "seedlab"
    shutil.copytree(REPO / "backend" / "seedlab", copy, symlinks=True, ignore=_caches)
    target = copy / module
    target.write_text(target.read_text() + f"\n\n{line}\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # A contract with ignored imports reports "BROKEN (N ignored imports)".
    broken = [text for text in result.stdout.splitlines() if " BROKEN" in text]
    assert any(contract in text for text in broken), result.stdout


def _caches(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]

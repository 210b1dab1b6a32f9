"""The import contracts in pyproject.toml hold; a deliberate violation of each kind breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "backend" / "seedlab"
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"
LAYERS = "every package and top-level module has a layer"
DOMAIN_LAYERS = "inside a domain package: router -> service -> repository -> models"
NO_CYCLES = "no cycles, at any depth"
PURE = "analysis/ and charts/ are pure"
PLAIN_DATA = "analysis/ works on plain data"
TENSORFLOW = "ML frameworks (TF, Keras, torch, JAX) only under runner/ and experiments/"
SERVER_SIDE = "the server side never imports the run process, the agent or Ray"
# What each contract whose sources list every package and top-level module leaves out.
CYCLE = {DOMAIN_LAYERS, NO_CYCLES}
CONTRACTS = (LAYERS, DOMAIN_LAYERS, NO_CYCLES, PURE, PLAIN_DATA, TENSORFLOW, SERVER_SIDE)
ALLOWED = {
    TENSORFLOW: {"runner", "experiments"},
    SERVER_SIDE: {"cli", "agent", "runner"},
}


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


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _top_level(package: Path) -> set[str]:
    """seedlab's packages and top-level modules, as the layers contract sees them."""
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return names


def _unlisted(package: Path) -> dict[str, set[str]]:
    """Per contract, the packages and top-level modules missing from its sources."""
    contracts = _contracts()
    missing = {}
    for name, allowed in ALLOWED.items():
        sources = {str(s).removeprefix("seedlab.") for s in contracts[name]["source_modules"]}
        gap = _top_level(package) - allowed - sources
        if gap:
            missing[name] = gap
    return missing


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "seedlab"
    shutil.copytree(PACKAGE, copy, symlinks=True, ignore=_caches)
    return copy


def test_the_code_keeps_every_contract() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_package_is_a_source_of_the_contracts_that_list_them() -> None:
    missing = _unlisted(PACKAGE)
    assert not missing, "add these to source_modules in pyproject.toml: " + "; ".join(
        f"{contract!r}: {sorted(names)}" for contract, names in missing.items()
    )


def test_a_new_module_must_be_placed(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    (copy / "newcomer.py").write_text('"""Not in any layer yet."""\n')
    assert _unlisted(copy) == {TENSORFLOW: {"newcomer"}, SERVER_SIDE: {"newcomer"}}
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _broken(result.stdout) >= {LAYERS}, result.stdout
    assert "seedlab.newcomer" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contracts"),
    [
        ("jobs/service.py", "import tensorflow", {TENSORFLOW}),
        # The server and the agent stay free of PyTorch and JAX (issue 22).
        ("queue/service.py", "import torch", {TENSORFLOW}),
        ("agent/worker.py", "import jax", {TENSORFLOW}),
        ("analysis/spread.py", "import fastapi", {PURE}),
        ("analysis/spread.py", "import pydantic", {PLAIN_DATA}),
        ("charts/overlay.py", "import sqlalchemy", {PURE}),
        # analysis/ and charts/ are the two lowest layers: nothing of seedlab below them.
        ("analysis/spread.py", "from seedlab import config", {LAYERS}),
        ("charts/overlay.py", "from seedlab.runs import service", {LAYERS}),
        # Domains return data; the presentation layer above them renders it.
        ("jobs/service.py", "from seedlab.pages import jobs", {LAYERS}),
        ("queue/service.py", "from seedlab.runner import launcher", {LAYERS, SERVER_SIDE}),
        ("pages/jobs.py", "from seedlab.agent import client", {SERVER_SIDE}),
        ("app.py", "import ray", {SERVER_SIDE}),
        # Independent siblings in one layer.
        ("compare/service.py", "from seedlab.queue import service as q", {LAYERS}),
        # runs/ is imported by jobs/; an import back inside a function still counts.
        ("runs/service.py", "def _late():\n    from seedlab.jobs import service", {LAYERS}),
        # Inside a package: a service never imports its router, models never their queries.
        ("tokens/service.py", "def _late():\n    from seedlab.tokens import router", CYCLE),
        ("runs/models.py", "def _late():\n    from seedlab.runs import repository", CYCLE),
    ],
)
def test_a_violation_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contracts: set[str]
) -> None:
    target = _copy(tmp_path) / module
    target.write_text(target.read_text() + f"\n\n{line}\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _broken(result.stdout) >= contracts, result.stdout


def _broken(stdout: str) -> set[str]:
    """The contracts the summary reports broken (some as "BROKEN (N ignored imports)")."""
    lines = [text for text in stdout.splitlines() if " BROKEN" in text]
    return {name for name in CONTRACTS if any(text.startswith(name) for text in lines)}


def _caches(_folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]

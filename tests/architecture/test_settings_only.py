"""SEEDLAB_ variables are read through config.Settings only (and the start-up hook's own)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "seedlab"
# config.py reads them all; the start-up hook runs inside a user's interpreter, where it reads
# its own variables before anything of seedlab's settings is loaded.
ALLOWED = {"config.py", "runner/starthook.py"}
# A variable's name, or the prefix an f-string builds one from; prose mentioning one has spaces.
NAME = re.compile(r"SEEDLAB_[A-Z0-9_]*")
READS = {"get", "pop", "setdefault", "__getitem__"}


def violations(source: str) -> list[str]:
    """`line: what` for each SEEDLAB_ variable named, and each environment read whose key is
    not a plain string, in this module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if NAME.fullmatch(node.value):
                found.append(f"{node.lineno}: names {node.value}")
        elif isinstance(node, ast.Call) and _reads_environment(node.func) and node.args:
            if not _plain_key(node.args[0]):
                found.append(f"{node.lineno}: reads the environment with a computed key")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_environ(node.value)
            and not _plain_key(node.slice)
        ):
            found.append(f"{node.lineno}: reads the environment with a computed key")
    return found


def _is_environ(node: ast.expr) -> bool:
    """`os.environ`, or a name `environ` (a parameter standing for it)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name)
    return isinstance(node, ast.Name) and node.id == "environ"


def _reads_environment(func: ast.expr) -> bool:
    """`os.getenv(...)` or `os.environ.get/pop/setdefault(...)`."""
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "getenv":
        return True
    return func.attr in READS and _is_environ(func.value)


def _plain_key(node: ast.expr) -> bool:
    """A string literal that is not a SEEDLAB_ name (those are reported on their own)."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def test_only_the_settings_and_the_start_up_hook_read_seedlab_variables() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE)
        if module.as_posix() in ALLOWED or module.parts[0] in ("frontend", "migrations"):
            continue  # the last two: symbolic links to the pages and Alembic, not seedlab code
        if hits := violations(path.read_text()):
            found[module.as_posix()] = hits
    assert not found, (
        "read SEEDLAB_ variables through a config.Settings field (a child's environment: "
        "Settings.from_environ; its variable's name: config.env_name): "
        + "; ".join(f"{module}: {', '.join(hits)}" for module, hits in found.items())
    )


def test_the_allowed_modules_exist() -> None:
    for module in ALLOWED:
        assert (PACKAGE / module).is_file(), module


@pytest.mark.parametrize(
    "line",
    [
        'TOKEN = os.environ.get("SEEDLAB_TOKEN")',
        'ENV = "SEEDLAB_EXPERIMENT_SOURCES"',
        'value = os.environ[f"SEEDLAB_{name.upper()}"]',
        "value = os.environ[SOURCES_ENV]",
        "value = os.getenv(name)",
        "value = environ.pop(key, None)",
        'option = typer.Option(envvar="SEEDLAB_SERVER")',
    ],
)
def test_a_planted_read_is_found(line: str) -> None:
    assert violations(f'"""A module."""\n\nimport os\n\n{line}\n')


@pytest.mark.parametrize(
    "line",
    [
        'home = os.environ.get("HOME")',
        'hint = "set SEEDLAB_AUTH=required on the server"',
        'os.environ["PYTHONPATH"] = "x"',
        "env = dict(os.environ)",
        "os.environ[name] = value",
    ],
)
def test_what_is_not_a_read_of_a_seedlab_variable_passes(line: str) -> None:
    assert violations(f'"""A module mentioning $SEEDLAB_TOKEN."""\n\nimport os\n\n{line}\n') == []

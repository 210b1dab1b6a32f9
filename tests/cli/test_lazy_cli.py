"""The CLI loads lazily: `seedlab --help` lists every command from a table without importing
them, the table says what each command's own help says, and `submit` imports no heavy library."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import typer

from seedlab.cli import COMMANDS, load_command

PROBE = """
import sys
from seedlab.cli import app
sys.argv = ["seedlab", *{args!r}]
try:
    app()
except SystemExit:
    pass
heavy = ("scipy", "sqlalchemy", "numpy", "fastapi", "tensorflow", "httpx", "seedlab.cli.jobs")
print("loaded:" + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("loaded:"), done.stderr
    return done.stdout, set(filter(None, line.removeprefix("loaded:").split(",")))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_table_matches_each_command(name: str) -> None:
    entry = COMMANDS[name]
    command = load_command(name)
    assert command.name == name
    value = getattr(__import__(entry.module, fromlist=["_"]), entry.attribute)
    if isinstance(value, typer.Typer):
        assert entry.help == value.info.help
    else:
        first = (inspect.getdoc(value) or "").split("\n\n")[0]
        assert entry.help == " ".join(first.split("\n"))
        # Client commands get --token (default $SEEDLAB_TOKEN) from the table.
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--token" in options or not entry.token, name


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    out, heavy = _loaded("--help")
    for name in COMMANDS:
        assert name in out
    assert heavy == set(), heavy


def test_submit_imports_neither_numpy_scipy_sqlalchemy_nor_the_server() -> None:
    out, heavy = _loaded("submit", "--help")
    assert "--wait" in out and "--token" in out
    assert heavy <= {"httpx", "seedlab.cli.jobs"}, heavy

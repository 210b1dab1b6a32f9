"""The `seedlab` command: the composition root of the client and serving commands.

Commands load lazily: `seedlab --help` imports only Typer, and `seedlab submit` only what
submitting needs (tests/cli/test_lazy_cli.py keeps this table true to the commands).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


class Entry:
    """Where a command lives, whether it takes --token, and its one-paragraph help."""

    def __init__(self, module: str, attribute: str, help: str, *, token: bool = True) -> None:
        self.module = f"seedlab.cli.{module}"
        self.attribute = attribute
        self.help = help
        self.token = token


# In the order `seedlab --help` lists them. Client commands get --token (default
# $SEEDLAB_TOKEN), which server_call sends; local ones (up, server, agent, check) do not.
COMMANDS: dict[str, Entry] = {
    "db": Entry("serving", "db_app", "Database maintenance.", token=False),
    "token": Entry(
        "tokens",
        "token_app",
        "API tokens (stored hashed; a token is shown once, at creation).",
        token=False,
    ),
    "data": Entry("data", "data_app", "CSV data sets for the tabular_csv experiment."),
    "export": Entry("export", "export_app", "Export seedlab jobs to other tools."),
    "up": Entry(
        "serving",
        "up",
        "Start the server and local agents (SQLite in SEEDLAB_DATA_DIR, or SEEDLAB_DATABASE_URL).",
        token=False,
    ),
    "server": Entry(
        "serving",
        "server",
        "Start only the server (agents connect with `seedlab agent`).",
        token=False,
    ),
    "agent": Entry(
        "serving",
        "agent",
        "Run an agent: claim runs from the server and execute them (--concurrency at once).",
        token=False,
    ),
    "check": Entry(
        "check",
        "check",
        "Run one short run of an experiment (profile full, seed 42, in a fresh process) and check "
        "the contract: run finished, metrics, epochs, data hash, weights. Exit 0 when all pass.",
        token=False,
    ),
    "submit": Entry(
        "jobs",
        "submit",
        "Submit a job. With --wait, print the report and exit 0 only if the job succeeded.",
    ),
    "decompose": Entry(
        "jobs",
        "decompose",
        "Where the seed variance comes from: vary each seed source alone (init, data order, "
        "split), repeat one seed with nondeterministic kernels, and vary every seed at once.",
    ),
    "sweep": Entry(
        "sweep",
        "sweep",
        "Compare configurations on the same seeds; racing drops the ones worse beyond noise.",
    ),
    "audit": Entry(
        "diagnosis",
        "audit",
        "Audit the randomness sources: the full profile, then each toggle off, twice each.",
    ),
    "status": Entry(
        "jobs",
        "status",
        "Print a job's report (runs with their current status), seeds needed, and with --value "
        "where a value falls among the seeds.",
    ),
    "cancel": Entry(
        "jobs", "cancel", "Cancel a job: queued runs are cancelled, running ones stopped."
    ),
    "experiments": Entry(
        "jobs",
        "experiments",
        "List the server's experiments (version, online, agents), then the agents' sources.",
    ),
    "diff": Entry(
        "diagnosis",
        "diff",
        "Show which environment fields differ between two runs (with risk) and where they part.",
    ),
    "compare": Entry(
        "diagnosis",
        "compare",
        "Compare two jobs on a final metric: is B better than A beyond seed noise?",
    ),
    "replay": Entry(
        "replay",
        "replay",
        "Run a run again; exit 0 when bit-identical, 1 when not (with the diff), 2 on errors.",
    ),
    "replay-best": Entry(
        "replay",
        "replay_best",
        "Replay a job's top K seeds under `full`; exit 0 when every one reproduced its weights.",
    ),
}


def load_command(name: str) -> Any:
    """The real click command of one entry: its module is imported now."""
    entry = COMMANDS[name]
    value: Any = getattr(importlib.import_module(entry.module), entry.attribute)
    if entry.token:
        from seedlab.cli.output import with_token
    if isinstance(value, typer.Typer):
        if entry.token:
            for info in value.registered_commands:
                if info.callback is not None and not getattr(info.callback, "_with_token", False):
                    info.callback = with_token(info.callback)
                    info.callback._with_token = True  # type: ignore[attr-defined]
        # As a group even with one command (export mlflow): add_typer keeps the level.
        parent = typer.Typer(add_completion=False)
        parent.add_typer(value, name=name)
        command = typer.main.get_group(parent).commands[name]
    else:
        single = typer.Typer(add_completion=False)
        single.command(name=name)(with_token(value) if entry.token else value)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """Lists commands from COMMANDS; imports a command's module only to run it or show its help."""

    # Context and Command are typed Any: typer >= 0.29 vendors its own click, older ones use click.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if ctx.meta.get("seedlab.resolving"):
            return load_command(cmd_name)
        # For the listing of `seedlab --help`: the name and help, nothing imported.
        return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name].help)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        ctx.meta["seedlab.resolving"] = True
        try:
            return super().resolve_command(ctx, args)
        finally:
            ctx.meta["seedlab.resolving"] = False


app = typer.Typer(cls=LazyGroup, help="seedlab: reproducibility runs of TensorFlow/Keras training.")


@app.callback()
def _root() -> None:
    """seedlab: reproducibility runs of TensorFlow/Keras training."""


def main() -> None:
    """Console-script entry point."""
    app()

"""Every client command takes --token, and wrapping it keeps the command's own options."""

from __future__ import annotations

import typer
from typer.main import get_command

from seedlab.cli import data, diagnosis, jobs, load_command, replay

CLIENT_COMMANDS = {
    "submit": jobs.submit,
    "audit": diagnosis.audit,
    "status": jobs.status,
    "cancel": jobs.cancel,
    "experiments": jobs.experiments,
    "diff": diagnosis.diff,
    "compare": diagnosis.compare,
    "replay-best": replay.replay_best,
}


def _options(command: object) -> set[str]:
    return {opt for param in command.params for opt in param.opts}  # type: ignore[attr-defined]


def test_client_commands_keep_their_options_and_add_token() -> None:
    # The CLI is lazy (seedlab.cli.COMMANDS): load_command builds the real command, as running it
    # does.
    for name, function in CLIENT_COMMANDS.items():
        plain = typer.Typer()
        plain.command()(function)
        plain.command("unused")(lambda: None)  # two commands: typer keeps the group
        plain_name = function.__name__.replace("_", "-")
        expected = _options(get_command(plain).commands[plain_name])  # type: ignore[attr-defined]
        wrapped = _options(load_command(name))
        assert wrapped == expected | {"--token"}, name
    data_group = load_command("data")
    for name in ("add", "list"):
        assert "--token" in _options(data_group.commands[name]), name
    assert "--json" in _options(load_command("submit"))
    assert data.data_app is not None

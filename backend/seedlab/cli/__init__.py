"""The `seedlab` command: the composition root of the client and serving commands."""

from __future__ import annotations

import typer

from seedlab.cli import check, data, diagnosis, export, jobs, replay, serving, sweep, tokens
from seedlab.cli.output import with_token

app = typer.Typer(help="seedlab: reproducibility runs of TensorFlow/Keras training.")
app.add_typer(serving.db_app, name="db")
app.add_typer(tokens.token_app, name="token")
# Client commands: each gets --token (default $SEEDLAB_TOKEN), which server_call sends.
for sub_app in (data.data_app, export.export_app):
    for info in sub_app.registered_commands:
        if info.callback is not None:
            info.callback = with_token(info.callback)
app.add_typer(data.data_app, name="data")
app.add_typer(export.export_app, name="export")
for local_command in (serving.up, serving.server, serving.agent, check.check):
    app.command()(local_command)
for command in (
    jobs.submit,
    jobs.decompose,
    sweep.sweep,
    diagnosis.audit,
    jobs.status,
    jobs.cancel,
    jobs.experiments,
    diagnosis.diff,
    diagnosis.compare,
    replay.replay,
    replay.replay_best,
):
    app.command()(with_token(command))


def main() -> None:
    """Console-script entry point."""
    app()

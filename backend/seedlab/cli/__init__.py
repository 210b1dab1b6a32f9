"""The `seedlab` command: the composition root of the client and serving commands."""

from __future__ import annotations

import typer

from seedlab.cli import diagnosis, jobs, serving, tokens
from seedlab.cli.output import with_token

app = typer.Typer(help="seedlab: reproducibility runs of TensorFlow/Keras training.")
app.add_typer(serving.db_app, name="db")
app.add_typer(tokens.token_app, name="token")
for serving_command in (serving.up, serving.server, serving.agent):
    app.command()(serving_command)
# Client commands: each gets --token (default $SEEDLAB_TOKEN), sent by server_call.
for command in (
    jobs.submit,
    diagnosis.audit,
    jobs.status,
    jobs.cancel,
    jobs.experiments,
    diagnosis.diff,
    diagnosis.compare,
):
    app.command(name=command.__name__)(with_token(command))


def main() -> None:
    """Console-script entry point."""
    app()

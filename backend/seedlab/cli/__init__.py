"""The `seedlab` command: the composition root of the client and serving commands."""

from __future__ import annotations

import typer

from seedlab.cli import check, data, diagnosis, export, jobs, replay, serving

app = typer.Typer(help="seedlab: reproducibility runs of TensorFlow/Keras training.")
app.add_typer(serving.db_app, name="db")
app.add_typer(data.data_app, name="data")
app.add_typer(export.export_app, name="export")
for command in (
    serving.up,
    serving.server,
    serving.agent,
    jobs.submit,
    diagnosis.audit,
    jobs.status,
    jobs.cancel,
    jobs.experiments,
    check.check,
    diagnosis.diff,
    diagnosis.compare,
    replay.replay,
    replay.replay_best,
):
    app.command()(command)


def main() -> None:
    """Console-script entry point."""
    app()

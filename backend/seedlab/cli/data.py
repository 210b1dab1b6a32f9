"""`seedlab data add FILE` and `seedlab data list`: upload and list CSV data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.cli.output import JsonOpt, ServerOpt, echo_json, fail, server_call

data_app = typer.Typer(help="CSV data sets for the tabular_csv experiment.")


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def _print_dataset(dataset: dict[str, Any]) -> None:
    typer.echo(
        f"{dataset['name']}  sha256 {dataset['sha256']}  {dataset['rows']} rows  "
        f"{len(dataset['columns'])} columns  {_size(dataset['size_bytes'])}"
    )
    for column in dataset["columns"]:
        distinct = column["distinct"] if column["distinct"] is not None else ">1000"
        typer.echo(
            f"  {column['name']:<24} {column['type']:<7} missing {column['missing']:<6} "
            f"distinct {distinct}"
        )


@data_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="the CSV file (UTF-8, header row first)")],
    name: Annotated[
        str | None, typer.Option("--name", help="data set name (default: the file's name)")
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Upload a CSV file and print the stored data set (identical content is stored once)."""
    if not file.is_file():
        raise fail(f"{file} is not a file")
    with server_call(server) as client:
        response = client.request(
            "POST",
            "/api/v1/datasets",
            params={"name": name} if name else None,
            files={"file": (file.name, file.read_bytes(), "text/csv")},
        )
    dataset: dict[str, Any] = response.json()
    if as_json:
        echo_json(dataset)
        return
    typer.echo("stored:" if response.status_code == 201 else "already stored (same content):")
    _print_dataset(dataset)


@data_app.command("list")
def list_(as_json: JsonOpt = False, server: ServerOpt = None) -> None:
    """Uploaded data sets, newest first."""
    with server_call(server) as client:
        datasets: list[dict[str, Any]] = client.get("/api/v1/datasets")
    if as_json:
        echo_json(datasets)
        return
    if not datasets:
        typer.echo("no data sets yet: seedlab data add FILE.csv")
    for dataset in datasets:
        _print_dataset(dataset)

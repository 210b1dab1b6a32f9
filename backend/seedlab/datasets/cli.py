"""`seedlab data add FILE` and `seedlab data list`: upload and list CSV data sets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable

# Not imported from seedlab.cli: that module imports this one to register the commands.
DEFAULT_SERVER = os.environ.get("SEEDLAB_SERVER", "http://127.0.0.1:8000")
UPLOAD_TIMEOUT = 300.0

data_app = typer.Typer(help="CSV data sets for the tabular_csv experiment.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _call(server: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    client = SeedlabClient(server, timeout=UPLOAD_TIMEOUT, retry_seconds=10.0)
    try:
        response = client.request(method, path, **kwargs)
        return response.status_code, response.json()
    except ApiError as exc:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        raise _fail(detail) from None
    except ServerUnreachable as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()


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
    as_json: Annotated[bool, typer.Option("--json", help="print the data set as JSON")] = False,
    server: Annotated[str, typer.Option("--server", help="seedlab server URL")] = DEFAULT_SERVER,
) -> None:
    """Upload a CSV file; prints the stored data set (an identical file is stored once)."""
    if not file.is_file():
        raise _fail(f"{file} is not a file")
    status, dataset = _call(
        server,
        "POST",
        "/api/v1/datasets",
        params={"name": name} if name else None,
        files={"file": (file.name, file.read_bytes(), "text/csv")},
    )
    if as_json:
        typer.echo(json.dumps(dataset, indent=2))
        return
    typer.echo("stored:" if status == 201 else "already stored (same content):")
    _print_dataset(dataset)


@data_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    server: Annotated[str, typer.Option("--server", help="seedlab server URL")] = DEFAULT_SERVER,
) -> None:
    """Uploaded data sets, newest first."""
    _status, datasets = _call(server, "GET", "/api/v1/datasets")
    if as_json:
        typer.echo(json.dumps(datasets, indent=2))
        return
    if not datasets:
        typer.echo("no data sets yet: seedlab data add FILE.csv")
    for dataset in datasets:
        _print_dataset(dataset)

"""Experiment sources on the command line: --experiments, loaded/FAILED lines, the local catalog."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.experiments.loader import absolute_source, dedupe, sources_from_env

ExperimentsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--experiments",
        "-e",
        help="where your experiments are: a .py file, a directory with a seedlab.toml, or a "
        "module name (repeatable; also $SEEDLAB_EXPERIMENT_SOURCES, comma-separated)",
        show_default=False,
    ),
]


def configured_sources(given: Sequence[str] | None) -> list[str]:
    """--experiments values, then SEEDLAB_EXPERIMENT_SOURCES and SEEDLAB_EXPERIMENT_MODULES;
    paths made absolute so run processes find them wherever they start."""
    try:
        from_env = sources_from_env()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return dedupe(absolute_source(source) for source in [*(given or []), *from_env])


def source_line(status: Mapping[str, Any]) -> str:
    """`loaded SOURCE (N experiments: a, b)` or `FAILED SOURCE: error`."""
    names = list(status["experiments"])
    listing = f"{len(names)} experiment{'' if len(names) == 1 else 's'}: {', '.join(names)}"
    if status["ok"]:
        return f"loaded {status['source']} ({listing})"
    kept = f" (still loaded: {', '.join(names)})" if names else ""
    return f"FAILED {status['source']}: {status['error']}{kept}"


def print_sources(statuses: Sequence[Mapping[str, Any]], *, prefix: str = "") -> None:
    """Every source as loaded or FAILED, on stderr (seen even when logs go elsewhere)."""
    for status in statuses:
        typer.echo(f"{prefix}{source_line(status)}", err=True)


def experiments_local(given: Sequence[str] | None, as_json: bool) -> None:
    """What this machine loads, without a server: each source, each experiment (version,
    defaults); exit 1 when a source failed."""
    from seedlab.experiments.inspect import InspectFailed, inspect_catalog

    try:
        report = inspect_catalog(configured_sources(given), project_dir=Path.cwd())
    except InspectFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(
            json.dumps({"experiments": report.experiments, "sources": report.sources}, indent=2)
        )
    else:
        for status in report.sources:
            typer.echo(source_line(status))
        for item in report.experiments:
            defaults = " ".join(f"{k}={v}" for k, v in item["defaults"].items())
            typer.echo(
                f"{item['name']} (v{item['version']}, {item['source']}): "
                f"{item['description']}\n  {defaults}"
            )
    raise typer.Exit(1 if report.failed else 0)

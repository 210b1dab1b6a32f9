"""`seedlab diff`: the environment fields that differ between two runs, and where they part."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable
from seedlab.analysis.divergence import describe

# Same defaults as seedlab.cli; not imported from there because that module registers this one.
DEFAULT_SERVER = os.environ.get("SEEDLAB_SERVER", "http://127.0.0.1:8000")
MAX_WIDTH = 48


def _text(value: Any) -> str:
    """A field value on one table line: strings bare, the rest as compact JSON, cut to fit."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"


def format_diff(result: Mapping[str, Any]) -> str:
    """A run diff as a readable table, riskiest fields first, then the package changes."""
    run_a, run_b = result["run_a"], result["run_b"]
    fields = result["fields"]
    if result["identical"]:
        return f"runs {run_a} and {run_b}: identical environments"
    counts = {risk: sum(1 for f in fields if f["risk"] == risk) for risk in ("high", "low", "none")}
    lines = [
        f"runs {run_a} and {run_b}: {len(fields)} field(s) differ "
        f"({counts['high']} high, {counts['low']} low, {counts['none']} none)"
    ]
    rows = [("RISK", "FIELD", f"RUN {run_a}", f"RUN {run_b}")] + [
        (f["risk"], f["name"], _text(f["a"]), _text(f["b"])) for f in fields
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    packages = result.get("packages") or {}
    lines += [f"+ {entry}" for entry in packages.get("added", [])]
    lines += [f"- {entry}" for entry in packages.get("removed", [])]
    lines += [f"~ {c['name']} {c['a']} -> {c['b']}" for c in packages.get("changed", [])]
    return "\n".join(line.rstrip() for line in lines)


def format_divergence(divergence: Mapping[str, Any]) -> str:
    """One or two lines: where the runs' weights first differ, and the likely cause."""
    if "error" in divergence:
        return f"first divergence: unknown ({divergence['error']})"
    line = f"first divergence: {describe(dict(divergence))}"
    if divergence.get("identical"):
        return line
    return f"{line}\n  {divergence['explanation']}"


def diff(
    run_a: Annotated[int, typer.Argument(help="run id")],
    run_b: Annotated[int, typer.Argument(help="run id to compare with")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    server: Annotated[str, typer.Option("--server", help="seedlab server URL")] = DEFAULT_SERVER,
) -> None:
    """Show which environment fields differ between two runs (with risk) and where they part."""
    client = SeedlabClient(server, retry_seconds=10.0)
    try:
        result = client.get(f"/api/v1/runs/{run_a}/diff/{run_b}")
        try:
            divergence = client.get(f"/api/v1/runs/{run_a}/divergence/{run_b}")
        except ApiError as exc:  # a run without a trace: the environment diff still stands
            divergence = {"error": str(exc)}
    except (ApiError, ServerUnreachable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        client.close()
    if as_json:
        summary = {k: v for k, v in divergence.items() if not k.endswith("_timeline")}
        typer.echo(json.dumps({**result, "divergence": summary}, indent=2))
        return
    typer.echo(format_diff(result))
    typer.echo(format_divergence(divergence))

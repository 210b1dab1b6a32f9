"""`seedlab compare JOB_A JOB_B --metric NAME`: is B better than A beyond seed noise?"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable

# Not imported from seedlab.cli: that module imports this one to register the command.
DEFAULT_SERVER = os.environ.get("SEEDLAB_SERVER", "http://127.0.0.1:8000")


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _print_comparison(result: dict[str, Any]) -> None:
    typer.echo(result["sentence"])
    for role in ("a", "b"):
        job = result[role]
        label = f" [{job['label']}]" if job.get("label") else ""
        typer.echo(
            f"  {role.upper()}: job {job['job_id']}{label} {job['experiment']} seeds "
            f"{job['seed_plan']} profile {job['profile_name']}: n={result['n_' + role]} "
            f"mean={_num(result['mean_' + role])} std={_num(result['std_' + role])}"
        )
    ci = result.get("ci95")
    ci_text = f"[{ci[0]:.6g}, {ci[1]:.6g}]" if ci else "n/a"
    typer.echo(
        f"  B - A = {_num(result['diff'])}, 95% CI {ci_text} "
        f"(bootstrap, {result['bootstrap']} resamples)"
    )
    typer.echo(
        f"  Welch p={_num(result['p_welch'])} Mann-Whitney p={_num(result['p_mannwhitney'])} "
        f"Cohen's d={_num(result['cohens_d'])}"
    )
    if result["paired"]:
        typer.echo(
            f"  same seeds: paired t p={_num(result['p_paired_t'])} "
            f"Wilcoxon p={_num(result['p_wilcoxon'])}"
        )
    needed = result.get("seeds_needed")
    typer.echo(f"  seeds per job for 80% power: {needed if needed is not None else 'n/a'}")


def compare(
    job_a: Annotated[int, typer.Argument(help="job A, the baseline")],
    job_b: Annotated[int, typer.Argument(help="job B, the candidate")],
    metric: Annotated[str, typer.Option("--metric", help="final metric, e.g. val_auc")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    server: Annotated[str, typer.Option("--server", help="seedlab server URL")] = DEFAULT_SERVER,
) -> None:
    """Compare two jobs on a final metric: is B better than A beyond seed noise?"""
    client = SeedlabClient(server, retry_seconds=10.0)
    try:
        result: dict[str, Any] = client.get("/api/v1/compare", a=job_a, b=job_b, metric=metric)
    except ApiError as exc:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        typer.echo(f"error: {detail}", err=True)
        raise typer.Exit(2) from None
    except ServerUnreachable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_comparison(result)

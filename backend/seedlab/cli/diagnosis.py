"""Diagnosis commands: audit (which controls matter), diff (why two runs differ), compare."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient
from seedlab.analysis.divergence import divergence_sentence
from seedlab.analysis.gates import (
    GateSyntaxError,
    evaluate_compare,
    exit_code,
    parse_compare_gate,
)
from seedlab.cli import ci
from seedlab.cli.jobs import wait_for_report
from seedlab.cli.output import (
    JsonOpt,
    ParamsOpt,
    ServerOpt,
    TimeoutOpt,
    echo_json,
    fail,
    num,
    parse_params,
    server_call,
    server_url,
)

MAX_WIDTH = 48


def _seconds(value: float | None) -> str:
    """Seconds per epoch, or n/a where the variant's runs failed before an epoch ended."""
    return "n/a" if value is None else f"{value:.3f}"


def audit(
    experiment: Annotated[str, typer.Argument(help="experiment name")],
    param: ParamsOpt = None,
    seed: Annotated[int, typer.Option(help="the seed to audit")] = 42,
    toggle: Annotated[
        list[str] | None, typer.Option("--toggle", help="audit only these toggles, repeatable")
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="an environment variant NAME=VALUE[,NAME=VALUE]; repeat for a matrix, e.g. "
            "--env TF_ENABLE_ONEDNN_OPTS=0 --env TF_ENABLE_ONEDNN_OPTS=1",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait for the audit to end")] = False,
    timeout: TimeoutOpt = 3600.0,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Audit the randomness sources: the full profile, then each toggle off, twice each."""
    matrix = [
        dict(pair.split("=", 1) for pair in variant.split(",") if "=" in pair)
        for variant in env or []
    ]
    spec: dict[str, Any] = {"seed": seed, "env_matrix": matrix}
    if toggle:
        spec["toggles"] = toggle
    payload = {
        "kind": "audit",
        "experiment": experiment,
        "params": parse_params(param or []),
        "audit": spec,
    }
    with server_call(server) as client:
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"audit job {job['id']} queued")
            return
        report = wait_for_report(client, job["id"], timeout)
    result = {"id": report["id"], "status": report["status"], **(report["audit"] or {})}
    if as_json:
        echo_json(result)
    else:
        typer.echo(f"audit job {report['id']}: {report['status']}")
        typer.echo(result.get("conclusion", ""))
        for name, row in result.get("toggles", {}).items():
            typer.echo(
                f"  {name:15} breaks bitwise: {row['breaks_bitwise']!s:5} "
                f"s/epoch on {_seconds(row['seconds_per_epoch_on'])} "
                f"off {_seconds(row['seconds_per_epoch_off'])}"
            )
    raise typer.Exit(0 if report["status"] == "succeeded" else 1)


def _text(value: Any) -> str:
    """A field value on one table line: strings bare, the rest as compact JSON, cut to fit."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"


def format_diff(result: Mapping[str, Any]) -> str:
    """A run diff as a readable table, riskiest fields first, then the package changes."""
    run_a, run_b = result["run_a"], result["run_b"]
    fields = result["fields"]
    written = [
        f"run {run} written by {result[key]}"
        for run, key in ((run_a, "writer_a"), (run_b, "writer_b"))
        if result.get(key)
    ]
    if result["identical"]:
        return "\n".join([f"runs {run_a} and {run_b}: identical environments", *written])
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
    lines += written
    return "\n".join(line.rstrip() for line in lines)


def format_divergence(divergence: Mapping[str, Any]) -> str:
    """One or two lines: where the runs' weights first differ, and the likely cause."""
    if "error" in divergence:
        return f"first divergence: unknown ({divergence['error']})"
    line = f"first divergence: {divergence_sentence(dict(divergence))}"
    if divergence.get("identical"):
        return line
    return f"{line}\n  {divergence['explanation']}"


def diff(
    run_a: Annotated[int, typer.Argument(help="run id")],
    run_b: Annotated[int, typer.Argument(help="run id to compare with")],
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Show which environment fields differ between two runs (with risk) and where they part."""
    with server_call(server) as client:
        result = client.get(f"/api/v1/runs/{run_a}/diff/{run_b}")
        try:
            divergence = client.get(f"/api/v1/runs/{run_a}/divergence/{run_b}")
        except ApiError as exc:  # a run without a trace: the environment diff still stands
            divergence = {"error": str(exc)}
    if as_json:
        summary = {k: v for k, v in divergence.items() if not k.endswith("_timeline")}
        echo_json({**result, "divergence": summary})
        return
    typer.echo(format_diff(result))
    typer.echo(format_divergence(divergence))


def _print_comparison(result: dict[str, Any]) -> None:
    typer.echo(result["sentence"])
    for role in ("a", "b"):
        job = result[role]
        label = f" [{job['label']}]" if job.get("label") else ""
        typer.echo(
            f"  {role.upper()}: job {job['job_id']}{label} {job['experiment']} seeds "
            f"{job['seed_plan']} profile {job['profile_name']}: n={result['n_' + role]} "
            f"mean={num(result['mean_' + role])} std={num(result['std_' + role])}"
        )
    ci = result.get("ci95")
    ci_text = f"[{ci[0]:.6g}, {ci[1]:.6g}]" if ci else "n/a"
    typer.echo(
        f"  B - A = {num(result['diff'])}, 95% CI {ci_text} "
        f"(bootstrap, {result['bootstrap']} resamples)"
    )
    typer.echo(
        f"  Welch p={num(result['p_welch'])} Mann-Whitney p={num(result['p_mannwhitney'])} "
        f"Cohen's d={num(result['cohens_d'])}"
    )
    if result["paired"]:
        typer.echo(
            f"  same seeds: paired t p={num(result['p_paired_t'])} "
            f"Wilcoxon p={num(result['p_wilcoxon'])}"
        )
    needed = result.get("seeds_needed")
    typer.echo(f"  seeds per job for 80% power: {needed if needed is not None else 'n/a'}")
    improvement = result.get("prob_improvement")
    if improvement:
        lo, hi = improvement["ci95"]
        decide = result.get("seeds_to_decide")
        more = f"; about {decide} paired seeds would likely decide it" if decide else ""
        typer.echo(
            f"  P(B > A) = {improvement['value']:.3g}, 95% CI [{lo:.3g}, {hi:.3g}] "
            f"(gamma {improvement['gamma']:g}): {result['conclusion']}{more}"
        )


def find_baseline(client: SeedlabClient, baseline: str, candidate: dict[str, Any]) -> int:
    """The latest succeeded job with the baseline's label, same experiment and parameters."""
    kind, sep, label = baseline.partition(":")
    if kind != "label" or not sep or not label:
        raise fail(f"--baseline takes label:NAME (e.g. label:main), got {baseline!r}")
    page = client.get(
        "/api/v1/jobs", label=label, experiment=candidate["experiment"], status="succeeded",
        limit=500,
    )
    for job in page["items"]:
        if job["id"] != candidate["id"] and job["params"] == candidate["params"]:
            return int(job["id"])
    raise fail(
        f"no succeeded job labelled {label!r} of {candidate['experiment']} with parameters "
        f"{json.dumps(candidate['params'], sort_keys=True)} to compare job {candidate['id']} with"
    )


def _seed_count(client: SeedlabClient, job_id: int, metric: str) -> int:
    """How many seeds of the job reported the metric (a gate needs 2 to decide)."""
    report = client.get(f"/api/v1/jobs/{job_id}/report")
    spread = report["metrics"].get(metric)
    if spread is None:
        known = ", ".join(sorted(report["metrics"])) or "none"
        raise fail(f"job {job_id} has no final metric {metric!r}; it has: {known}")
    return int(spread["n"])


def compare(
    jobs: Annotated[
        list[int],
        typer.Argument(help="A B (A the baseline, B the candidate), or only B with --baseline"),
    ],
    metric: Annotated[str, typer.Option("--metric", help="final metric, e.g. val_auc")],
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="label:NAME: A is the latest succeeded job with that label, the same "
            "experiment and the same parameters as B",
        ),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="not_worse:MARGIN (95% CI of B - A above -MARGIN) or better; repeatable. "
            "Exit 0 all hold, 1 one fails, 2 error, 3 inconclusive",
        ),
    ] = None,
    junit: ci.JunitOpt = None,
    output_format: ci.FormatOpt = "text",
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Compare two jobs on a final metric: is B better than A beyond seed noise?"""
    try:
        gates = [parse_compare_gate(text) for text in gate or []]
    except GateSyntaxError as exc:
        raise fail(str(exc)) from None
    if len(jobs) != (1 if baseline else 2):
        raise fail("give two jobs A B, or one job B with --baseline label:NAME")
    with server_call(server) as client:
        if baseline:
            job_b = jobs[0]
            job_a = find_baseline(client, baseline, client.get(f"/api/v1/jobs/{job_b}"))
        else:
            job_a, job_b = jobs
        result: dict[str, Any] | None = None
        n_a = n_b = 2
        if gates:
            n_a, n_b = _seed_count(client, job_a, metric), _seed_count(client, job_b, metric)
        if min(n_a, n_b) >= 2:
            result = client.get("/api/v1/compare", a=job_a, b=job_b, metric=metric)
    if not gates:
        assert result is not None
        if as_json:
            echo_json(result)
        else:
            _print_comparison(result)
        return
    results = [
        evaluate_compare(g, result or {"ci95": None, "diff": None}, n_a=n_a, n_b=n_b)
        for g in gates
    ]
    if as_json:
        echo_json({**(result or {"a": {"job_id": job_a}, "b": {"job_id": job_b}}),
                   "gates": [r.to_dict() for r in results]})
    elif result is not None:
        _print_comparison(result)
    else:
        typer.echo(f"job {job_b} against job {job_a} on {metric}: too few seeds to compare")
    ci.report_outcomes(results, fmt=output_format, err=as_json, title="seedlab compare")
    if junit:
        ci.write_junit(junit, suite="seedlab.compare", results=results)
    url = server_url(server)
    ci.append_step_summary(ci.compare_summary(
        job_a, job_b, metric, result, results, f"{url.rstrip('/')}/compare?a={job_a}&b={job_b}"
    ))
    raise typer.Exit(exit_code(results))

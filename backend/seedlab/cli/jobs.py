"""Job commands: submit, decompose, status, cancel, experiments."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.agent.client import SeedlabClient
from seedlab.analysis.gates import ReportGate, UnknownMetric, evaluate_report, exit_code
from seedlab.cli import ci
from seedlab.cli.output import (
    JsonOpt,
    ParamsOpt,
    ServerOpt,
    TimeoutOpt,
    echo_json,
    fail,
    parse_params,
    server_call,
    server_url,
)
from seedlab.cli.sources import ExperimentsOpt, experiments_local
from seedlab.controls import toggles_help
from seedlab.status import TERMINAL_JOB_STATUSES


def fetch_report(
    client: SeedlabClient, job_id: int, query: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The job's report from the server (query: halfwidth, difference, value, metric)."""
    given = {k: v for k, v in (query or {}).items() if v is not None}
    report: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}/report", **given)
    return report


def print_seed_science(report: dict[str, Any]) -> None:
    """The sequential plan's rounds, the seeds needed per metric, and a value's percentile."""
    seq = report.get("sequential")
    if seq:
        state = (
            "running" if seq["reason"] is None else
            f"{'met' if seq['met'] else 'not met'}: {seq['reason']}"
        )
        rounds = ", ".join(
            f"{r['seeds']} seeds -> "
            + ("running" if r["halfwidth"] is None else f"{r['halfwidth']:.3g}")
            for r in seq["rounds"]
        )
        typer.echo(
            f"sequential: until {seq['until']} (max {seq['max_seeds']} seeds), {state}; "
            f"half-width by round: {rounds}"
        )
    for name, needed in report.get("seeds_needed", {}).items():
        parts = []
        if needed.get("halfwidth"):
            h = needed["halfwidth"]
            parts.append(f"{_count(h['seeds'])} seeds for a 95% CI half-width of {h['target']:.3g}")
        if needed.get("difference"):
            d = needed["difference"]
            parts.append(
                f"{_count(d['seeds'])} seeds per job to detect a difference of "
                f"{d['target']:.3g} at {d['power']:.0%} power"
            )
        if parts:
            typer.echo(f"  {name} (std {needed['std']:.3g} over {needed['n']} seeds): "
                       + "; ".join(parts))
    pct = report.get("percentile")
    if pct:
        side = "higher" if pct["higher_is_better"] else "lower"
        typer.echo(
            f"{pct['value']:g} falls at the {pct['percentile']:.1f}th percentile of "
            f"{pct['metric']} over {pct['n']} seeds ({side} is better): it beats "
            f"{pct['percentile']:.1f}% of the seeds"
        )


def _count(seeds: int | None) -> str:
    return "more than a million" if seeds is None else str(seeds)


def print_report(report: dict[str, Any]) -> None:
    typer.echo(
        f"job {report['id']} {report['experiment']} seeds {report['seed_plan']} "
        f"profile {report['profile_name']}: {report['status']}, verdict {report['verdict']}"
    )
    typer.echo(report["verdict_evidence"].get("summary", ""))
    for name, s in report["metrics"].items():
        ci = s.get("ci95")
        ci_text = f" 95% CI [{ci[0]:.6g}, {ci[1]:.6g}]" if ci else ""
        std = "n/a" if s.get("std") is None else f"{s['std']:.6g}"
        mean = "n/a" if s.get("mean") is None else f"{s['mean']:.6g}"
        typer.echo(f"  {name}: n={s['n']} mean={mean} std={std}{ci_text}")
        lottery = report.get("seed_lottery", {}).get(name)
        if lottery:
            curve = lottery["expected_best_of_k"]
            typer.echo(
                f"    best of {len(curve)} seeds: expected {curve[-1]:.6g} vs {curve[0]:.6g} for "
                f"one seed (inflation {lottery['inflation']:+.3g})"
            )
    print_seed_science(report)
    for name, section in (report.get("decomposition") or {}).items():
        from seedlab.jobs.decompose import sentence as decomposition_sentence

        typer.echo(f"  variance of {decomposition_sentence(name, section)}")
    for warning in report.get("warnings", []):
        typer.echo(f"  warning {warning['code']} ({warning['where']}): {warning['message']}")
    for run in report["runs"]:
        progress = f"epoch {run['epoch']}/{run['epochs']}" if run.get("epochs") else ""
        checksum = (run.get("weights_checksum") or "")[:12]
        typer.echo(
            f"  run {run['id']} seed {run['seed']} repeat {run['repeat']}: {run['status']} "
            f"{progress} {checksum} {run.get('error') or ''}".rstrip()
        )


def _show(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(report)
    else:
        print_report(report)


def _exit_code(report: dict[str, Any], require_bitwise: bool) -> int:
    if report["status"] != "succeeded":
        return 1
    if require_bitwise and report["verdict"] != "bitwise":
        return 3
    return 0


def submit(
    experiment: Annotated[str, typer.Argument(help="experiment name, see `seedlab experiments`")],
    param: ParamsOpt = None,
    seeds: Annotated[
        str, typer.Option(help="seed plan: BASE:COUNTxREPEATS, 1,2,3x2, or BASE:auto with --until")
    ] = "42:3x2",
    until: Annotated[
        str | None,
        typer.Option(
            help="with --seeds BASE:auto: add seeds in rounds until this holds, "
            "e.g. 'val_auc.ci95_halfwidth<=0.002'"
        ),
    ] = None,
    max_seeds: Annotated[
        int | None, typer.Option(help="with --seeds BASE:auto: at most this many seeds (50)")
    ] = None,
    profile: Annotated[
        str,
        typer.Option(
            help="full, seeds_only, none, or a JSON object with a preset and toggles, e.g. "
            "'{\"preset\": \"full\", \"op_determinism\": false}'. Toggles (presets that turn "
            f"them on): {toggles_help()}"
        ),
    ] = "full",
    label: Annotated[str | None, typer.Option(help="free text shown on pages")] = None,
    tolerance: Annotated[
        list[str] | None, typer.Option("--tolerance", help="METRIC=ABS, repeatable")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait until the job ends")] = False,
    timeout: TimeoutOpt = 3600.0,
    require_bitwise: Annotated[
        bool,
        typer.Option(
            "--require-bitwise",
            help="with --wait: exit 3 unless bitwise (the old spelling of --gate verdict=bitwise)",
        ),
    ] = False,
    gate: ci.GateOpt = None,
    junit: ci.JunitOpt = None,
    output_format: ci.FormatOpt = "text",
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Submit a job. With --wait, print the report and exit 0 only if the job succeeded.

    With --gate: exit 0 every gate holds, 1 one fails, 2 error (job failed too), 3 inconclusive,
    4 timeout.
    """
    gates = ci.parse_gates(gate or [])
    if (gates or junit) and not wait:
        raise fail("--gate and --junit need --wait: gates are checked on the finished job")
    if gates and require_bitwise:
        raise fail("--require-bitwise is the old spelling of --gate verdict=bitwise; use one")
    try:
        profile_value: Any = json.loads(profile) if profile.lstrip().startswith("{") else profile
    except json.JSONDecodeError as exc:
        raise fail(
            f"--profile is not valid JSON ({exc}); use full, seeds_only, none or an object"
        ) from None
    payload: dict[str, Any] = {
        "experiment": experiment,
        "params": parse_params(param or []),
        "seeds": seeds,
        "profile": profile_value,
    }
    if label:
        payload["label"] = label
    if until is not None:
        payload["until"] = until
    if max_seeds is not None:
        payload["max_seeds"] = max_seeds
    if tolerance:
        payload["tolerance"] = {k: float(v) for k, v in parse_params(tolerance).items()}
    with server_call(server) as client:
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"job {job['id']} queued")
            return
        report = wait_for_report(client, job["id"], timeout)
    if gates or junit:
        code = check_gates(
            report, gates, junit=junit, fmt=output_format, as_json=as_json, server=server
        )
        # --junit alone keeps the exit codes of a plain --wait (and --require-bitwise).
        raise typer.Exit(code if gates else _exit_code(report, require_bitwise))
    _show(report, as_json)
    raise typer.Exit(_exit_code(report, require_bitwise))


def decompose(
    experiment: Annotated[str, typer.Argument(help="experiment name, see `seedlab experiments`")],
    param: ParamsOpt = None,
    seeds: Annotated[
        str, typer.Option(help="BASE:M, the base seed and M runs per group (e.g. 42:3)")
    ] = "42:3",
    profile: Annotated[
        str, typer.Option(help="full or seeds_only (the kernels group always runs seeds_only)")
    ] = "full",
    label: Annotated[str | None, typer.Option(help="free text shown on pages")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait until the job ends")] = False,
    timeout: TimeoutOpt = 3600.0,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Where the seed variance comes from: vary each seed source alone (init, data order,
    split), repeat one seed with nondeterministic kernels, and vary every seed at once.

    Prints the plan (how many runs) before submitting. With --wait, prints the shares of each
    final metric and exits 0 only if the job succeeded.
    """
    payload: dict[str, Any] = {
        "kind": "decompose",
        "experiment": experiment,
        "params": parse_params(param or []),
        "seeds": seeds,
        "profile": profile,
    }
    if label:
        payload["label"] = label
    with server_call(server) as client:
        plan = client.post("/api/v1/jobs/plan", payload)
        # The plan first: with --json on stderr, so stdout stays one JSON document.
        typer.echo(plan["text"], err=as_json)
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"job {job['id']} queued")
            return
        report = wait_for_report(client, job["id"], timeout)
    _show(report, as_json)
    raise typer.Exit(_exit_code(report, False))


def check_gates(
    report: dict[str, Any],
    gates: list[ReportGate],
    *,
    junit: Path | None,
    fmt: str,
    as_json: bool,
    server: str | None,
) -> int:
    """Print the report and each gate, write the CI files; the gate exit code."""
    url = ci.job_url(server_url(server), report["id"])
    if report["status"] != "succeeded":
        if junit:
            ci.write_junit(junit, suite="seedlab", results=[], pairs=[], error=(
                f"job {report['id']} {report['status']}"))
        ci.append_step_summary(ci.job_summary(report, [], url))
        _show(report, as_json)
        if not gates:
            return 1
        raise fail(f"job {report['id']} {report['status']}: gates not checked ({url})")
    try:
        results = evaluate_report(gates, report)
    except UnknownMetric as exc:
        _show(report, as_json)
        raise fail(str(exc)) from None
    if as_json:
        echo_json({**report, "gates": [r.to_dict() for r in results]})
    else:
        print_report(report)
    ci.report_outcomes(results, fmt=fmt, err=as_json)
    if junit:
        ci.write_junit(junit, suite="seedlab", results=results, pairs=ci.seed_pairs(report))
    ci.append_step_summary(ci.job_summary(report, results, url))
    return exit_code(results)


# How long one long poll may wait: progress lines appear at least this often.
WAIT_POLL_SECONDS = 5.0


def wait_for_report(client: SeedlabClient, job_id: int, timeout: float) -> dict[str, Any]:
    """Long-poll the job's end (GET .../wait answers within ~25 ms of it), then its report."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        left = max(0.0, deadline - time.monotonic())
        job = client.get(f"/api/v1/jobs/{job_id}/wait", timeout=min(WAIT_POLL_SECONDS, left))
        done = sum(job["run_counts"].get(s, 0) for s in TERMINAL_JOB_STATUSES)
        line = f"job {job_id}: {job['status']} ({done}/{job['run_count']} runs done)"
        if line != last:
            typer.echo(line, err=True)
            last = line
        if job["status"] in TERMINAL_JOB_STATUSES:
            return fetch_report(client, job_id)
        if time.monotonic() >= deadline:
            raise fail(f"job {job_id} still {job['status']} after {timeout:.0f} s", 4)


def status(
    job: Annotated[int, typer.Argument(help="job id")],
    value: Annotated[
        float | None,
        typer.Option(help="where does this value fall among the job's seeds? (a percentile)"),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="the final metric --value is placed in (default: val_auc…)")
    ] = None,
    halfwidth: Annotated[
        float | None, typer.Option(help="seeds needed for this 95% CI half-width")
    ] = None,
    difference: Annotated[
        float | None, typer.Option(help="seeds needed to detect this difference at 80% power")
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Print a job's report (runs with their current status), seeds needed, and with --value
    where a value falls among the seeds."""
    if metric is not None and value is None:
        raise fail("--metric picks the metric --value is placed in: give --value too")
    query = {"halfwidth": halfwidth, "difference": difference, "value": value, "metric": metric}
    with server_call(server) as client:
        report = fetch_report(client, job, query)
    _show(report, as_json)


def cancel(
    job: Annotated[int, typer.Argument(help="job id")], server: ServerOpt = None
) -> None:
    """Cancel a job: queued runs are cancelled, running ones stopped."""
    with server_call(server) as client:
        result = client.post(f"/api/v1/jobs/{job}/cancel")
    typer.echo(f"job {job}: {result['status']}")


def experiments(
    as_json: JsonOpt = False,
    server: ServerOpt = None,
    local: Annotated[
        bool, typer.Option("--local", help="load them here, without a server, and say how")
    ] = False,
    sources: ExperimentsOpt = None,
) -> None:
    """List the server's experiments (version, online, agents), then the agents' sources."""
    if local:
        experiments_local(sources, as_json)
    if sources:
        raise fail("--experiments needs --local (the server lists what its agents advertise)")
    with server_call(server) as client:
        items = client.get("/api/v1/experiments")
        reported = [] if as_json else client.get("/api/v1/experiments/sources")
    if as_json:
        echo_json(items)
        return
    for item in items:
        typer.echo(experiment_line(item))
        defaults = " ".join(f"{k}={v}" for k, v in item["defaults"].items())
        typer.echo(f"  {item['description']}\n  {defaults}")
    typer.echo("sources, as the agents reported them:" if reported else "no agent reported sources")
    for source in reported:
        typer.echo(source_line(source))


def experiment_line(item: dict[str, Any]) -> str:
    """One experiment: name, version, online or offline with its live agents."""
    state = (
        f"online, {item.get('agents', 0)} live agent(s)"
        if item.get("online")
        else "offline: no live agent advertises it"
    )
    versions = [v for v in item.get("versions", []) if v != item["version"]]
    others = f", also seen: {', '.join(versions)}" if versions else ""
    return f"{item['name']} v{item['version']} ({state}{others}) [{item.get('source', '?')}]"


def source_line(source: dict[str, Any]) -> str:
    """One reported source: loaded with N experiments, or FAILED with the error."""
    where = f"agent {source['agent']}{'' if source.get('live') else ' (offline)'}"
    if source["ok"]:
        names = source.get("experiments", [])
        return f"  {source['source']} on {where}: loaded {len(names)} experiment(s) " + (
            f"({', '.join(names)})" if names else ""
        ).rstrip()
    return f"  {source['source']} on {where}: FAILED: {source.get('error') or 'no error given'}"

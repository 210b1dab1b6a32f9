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
from seedlab.jobs.decompose import sentence as decomposition_sentence
from seedlab.status import TERMINAL_JOB_STATUSES


def fetch_report(client: SeedlabClient, job_id: int) -> dict[str, Any]:
    """The job's report from the server."""
    report: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}/report")
    return report


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
    for name, section in (report.get("decomposition") or {}).items():
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
    seeds: Annotated[str, typer.Option(help="seed plan: BASE:COUNTxREPEATS or 1,2,3x2")] = "42:3x2",
    profile: Annotated[str, typer.Option(help="full, seeds_only, none, or a JSON object")] = "full",
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


def wait_for_report(client: SeedlabClient, job_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        report = fetch_report(client, job_id)
        done = sum(report["run_counts"].get(s, 0) for s in TERMINAL_JOB_STATUSES)
        line = f"job {job_id}: {report['status']} ({done}/{len(report['runs'])} runs done)"
        if line != last:
            typer.echo(line, err=True)
            last = line
        if report["status"] in TERMINAL_JOB_STATUSES:
            return report
        if time.monotonic() > deadline:
            raise fail(f"job {job_id} still {report['status']} after {timeout:.0f} s", 4)
        time.sleep(1.0)


def status(
    job: Annotated[int, typer.Argument(help="job id")],
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Print a job's report (runs with their current status)."""
    with server_call(server) as client:
        report = fetch_report(client, job)
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

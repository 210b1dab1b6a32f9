"""`seedlab sweep`: which configuration wins beyond seed noise, racing over common seeds."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from seedlab.analysis.sweep import params_label
from seedlab.cli.jobs import print_report, wait_for_report
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
)

CONCLUSIONS = ("decided", "tied", "inconclusive")
GATE_RULE = "a sweep gate is winner=CONCLUSION[,CONCLUSION] (decided, tied), e.g. winner=decided"


def parse_grid(pairs: list[str]) -> dict[str, list[Any]]:
    """NAME=V1,V2,... per --grid; values read as JSON numbers or words, as --param reads them."""
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name or not raw:
            raise fail(f"--grid takes NAME=V1,V2[,...], got {pair!r}")
        if name in grid:
            raise fail(f"--grid names {name} twice; list its values once: {name}=V1,V2")
        grid[name] = [parse_params([f"v={v.strip()}"])["v"] for v in raw.split(",")]
    return grid


def parse_gate(texts: list[str]) -> tuple[str, ...] | None:
    """The conclusions a --gate accepts, or exit 2 quoting the rule."""
    if not texts:
        return None
    if len(texts) > 1:
        raise fail(f"give one --gate; {GATE_RULE}")
    name, sep, raw = texts[0].replace(" ", "").partition("=")
    wanted = tuple(raw.split(","))
    if name != "winner" or not sep or not all(w in CONCLUSIONS[:2] for w in wanted):
        raise fail(f"cannot read gate {texts[0]!r}; {GATE_RULE}")
    return wanted


def gate_code(report: dict[str, Any], wanted: tuple[str, ...]) -> tuple[int, str]:
    """0 the winner's conclusion is one wanted, 1 it is another, 2 the job failed or has no
    conclusion, 3 inconclusive (more seeds would decide it)."""
    section = report.get("sweep") or {}
    winner = section.get("winner")
    if report["status"] != "succeeded" or winner is None:
        reason = section.get("reason") or report["status"]
        return 2, f"gate winner={','.join(wanted)}: error, the sweep has no winner ({reason})"
    conclusion = winner["conclusion"]
    line = f"gate winner={','.join(wanted)}: {conclusion}"
    if conclusion in wanted:
        return 0, f"{line}: held"
    if conclusion == "inconclusive":
        return 3, f"{line}: about {winner['seeds_needed']} seeds per configuration would decide"
    return 1, f"{line}: failed"


def print_sweep(section: dict[str, Any]) -> None:
    """The winner sentence, then every configuration sorted by mean, then the rounds."""
    typer.echo(section["sentence"])
    sign = -1.0 if section["mode"] == "max" else 1.0
    rows = sorted(section["configs"], key=lambda c: (c["mean"] is None, sign * (c["mean"] or 0.0)))
    for c in rows:
        ci = c["ci95"]
        ci_text = f" [{num(ci[0])}, {num(ci[1])}]" if ci else ""
        out = f", dropped after round {c['eliminated_after']}" if c["eliminated_after"] else ""
        p = "n/a" if c["p_best"] is None else f"{c['p_best']:.2f}"
        typer.echo(
            f"  {params_label(c['params'])}: n={c['n']} mean={num(c['mean'])}{ci_text} "
            f"p_best={p} rank={c['rank']} {c['rank_interval']}{out}"
        )
    rounds = ", ".join(f"{r['seeds']} seeds x {r['alive']}" for r in section["rounds"])
    typer.echo(
        f"  rounds: {rounds}; runs {section['runs_used']} of {section['runs_full_grid']} "
        "(full grid)"
    )


def sweep(
    experiment: Annotated[str, typer.Argument(help="experiment name, see `seedlab experiments`")],
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="NAME=V1,V2[,...]: values of one swept parameter; repeatable"),
    ] = None,
    param: ParamsOpt = None,
    seeds: Annotated[
        str, typer.Option(help="BASE:N (N seeds per configuration) or BASE:auto (race in rounds)")
    ] = "42:auto",
    metric: Annotated[str, typer.Option(help="final metric to compare on, e.g. val_auc")] = "",
    mode: Annotated[
        str | None, typer.Option(help="max or min is best (default: min for loss-like names)")
    ] = None,
    race: Annotated[
        bool | None,
        typer.Option(
            "--race/--no-race",
            help="drop configurations worse beyond noise after each round (default: on with "
            "BASE:auto)",
        ),
    ] = None,
    max_seeds: Annotated[
        int | None, typer.Option(help="seeds per configuration at most (BASE:auto: 20)")
    ] = None,
    margin: Annotated[
        float, typer.Option(help="leaders closer than this on the metric count as tied")
    ] = 0.0,
    profile: Annotated[str, typer.Option(help="full, seeds_only, none, or a JSON object")] = "full",
    label: Annotated[str | None, typer.Option(help="free text shown on pages")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait until the sweep ends")] = False,
    timeout: TimeoutOpt = 3600.0,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help="with --wait: winner=decided (or winner=decided,tied). Exit 0 holds, 1 fails, "
            "2 error, 3 inconclusive, 4 timeout",
        ),
    ] = None,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Compare configurations on the same seeds; racing drops the ones worse beyond noise.

    Prints the plan (the full grid's runs and the first round) before submitting. With --wait,
    prints the winner with its conclusion (decided, tied, inconclusive) and every
    configuration's mean, CI and probability of being best.
    """
    wanted = parse_gate(gate or [])
    if wanted and not wait:
        raise fail("--gate needs --wait: the gate is checked on the finished sweep")
    if not metric:
        raise fail("--metric is required: the final metric the sweep compares, e.g. val_auc")
    if mode is not None and mode not in ("max", "min"):
        raise fail(f"--mode is max or min, got {mode!r}")
    if not grid:
        raise fail("give at least one --grid NAME=V1,V2 (the configurations to compare)")
    try:
        profile_value: Any = json.loads(profile) if profile.lstrip().startswith("{") else profile
    except json.JSONDecodeError as exc:
        raise fail(f"--profile is not valid JSON ({exc})") from None
    spec: dict[str, Any] = {"grid": parse_grid(grid), "metric": metric, "margin": margin}
    if mode is not None:
        spec["mode"] = mode
    if race is not None:
        spec["race"] = race
    if max_seeds is not None:
        spec["max_seeds"] = max_seeds
    payload: dict[str, Any] = {
        "kind": "sweep",
        "experiment": experiment,
        "params": parse_params(param or []),
        "seeds": seeds,
        "profile": profile_value,
        "sweep": spec,
    }
    if label:
        payload["label"] = label
    with server_call(server) as client:
        plan = client.post("/api/v1/jobs/plan", payload)
        typer.echo(plan["text"], err=as_json)  # stdout stays one JSON document with --json
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"job {job['id']} queued")
            return
        report = wait_for_report(client, job["id"], timeout)
    code, line = (None, "") if wanted is None else gate_code(report, wanted)
    if as_json:
        echo_json(report)
    else:
        print_report(report)
        if report.get("sweep"):
            print_sweep(report["sweep"])
    if line:
        typer.echo(line, err=as_json)
    if code is not None:
        raise typer.Exit(code)
    raise typer.Exit(0 if report["status"] == "succeeded" else 1)

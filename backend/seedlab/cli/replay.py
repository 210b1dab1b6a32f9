"""Replay commands: run a run again from its bundle, or a job's best seeds under `full`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient
from seedlab.cli.diagnosis import format_diff, format_divergence
from seedlab.cli.jobs import wait_for_report
from seedlab.cli.output import (
    JsonOpt,
    ServerOpt,
    TimeoutOpt,
    echo_json,
    fail,
    server_call,
    server_url,
)
from seedlab.fingerprints.diff import diff_applied_profiles, diff_fingerprints
from seedlab.jobs.replay import replay_outcomes


def load_bundle(client: SeedlabClient, target: str) -> tuple[dict[str, Any], bool]:
    """The bundle of a run id on this server, or read from a file; True when from the server."""
    if target.isdigit():
        bundle: dict[str, Any] = client.get(f"/api/v1/runs/{target}/bundle")
        return bundle, True
    path = Path(target)
    if not path.is_file():
        raise fail(f"{target!r} is neither a run id nor a bundle file")
    try:
        bundle = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"cannot read bundle {target}: {exc}") from None
    missing = [k for k in ("experiment", "params", "seed", "profile") if k not in bundle]
    if missing:
        raise fail(f"{target} is not a seedlab run bundle: no {', '.join(missing)}")
    return bundle, False


def profile_spec(profile: dict[str, Any]) -> dict[str, Any]:
    """A resolved profile as a ProfileSpec: every toggle explicit, so nothing is re-decided."""
    return {"preset": "full", **{k: v for k, v in profile.items() if k != "name"}}


def check_experiment(client: SeedlabClient, bundle: dict[str, Any], url: str) -> None:
    """Exit 2 when the server lacks the bundle's experiment or has another version of it."""
    wanted = bundle["experiment"]
    try:
        entry = client.get(f"/api/v1/experiments/{wanted['name']}")
    except ApiError as exc:
        if exc.status_code != 404:
            raise
        raise fail(
            f"experiment {wanted['name']!r} of the bundle is not known on {url}; "
            "install it there (or point --server at the server the bundle came from)"
        ) from None
    # A job runs the catalog's current version, so only that one can reproduce the bundle.
    if str(entry["version"]) != str(wanted["version"]):
        raise fail(
            f"experiment {wanted['name']!r} differs: the bundle ran version {wanted['version']}, "
            f"{url} runs version {entry['version']}"
        )
    theirs = entry.get("source_hash")
    if theirs and wanted.get("source_hash") and theirs != wanted["source_hash"]:
        raise fail(
            f"experiment {wanted['name']!r} differs: the bundle's source hash is "
            f"{wanted['source_hash']}, {url} has {theirs}"
        )


def submit_replay(client: SeedlabClient, bundle: dict[str, Any], label: str) -> dict[str, Any]:
    """Queue the bundle's experiment, params and seed, once, under its profile."""
    job: dict[str, Any] = client.post(
        "/api/v1/jobs",
        {
            "experiment": bundle["experiment"]["name"],
            "params": bundle["params"],
            "seeds": f"{bundle['seed']}:1x1",
            "profile": profile_spec(bundle["profile"]),
            "label": label,
        },
    )
    return job


def _same_bits(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a.get("weights_checksum") is not None
        and a.get("weights_checksum") == b.get("weights_checksum")
        and a.get("final_metrics") == b.get("final_metrics")
    )


def replay(
    target: Annotated[str, typer.Argument(help="RUN_ID on this server, or a BUNDLE_FILE")],
    wait: Annotated[bool, typer.Option("--wait", help="wait and compare the bits")] = False,
    timeout: TimeoutOpt = 3600.0,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Run a run again; exit 0 when bit-identical, 1 when not (with the diff), 2 on errors."""
    url = server_url(server)
    with server_call(server) as client:
        bundle, on_server = load_bundle(client, target)
        check_experiment(client, bundle, url)
        job = submit_replay(client, bundle, f"replay of run {bundle.get('run_id', '?')}")
        if not wait:
            if as_json:
                echo_json({"job_id": job["id"]})
            else:
                typer.echo(f"replay job {job['id']} queued")
            return
        report = wait_for_report(client, job["id"], timeout)
        (run,) = report["runs"]
        if run["status"] != "succeeded":
            raise fail(f"replay run {run['id']} {run['status']}: {run.get('error') or ''}")
        new = client.get(f"/api/v1/runs/{run['id']}/bundle")
        theirs, ours = bundle["experiment"].get("source_hash"), new["experiment"]["source_hash"]
        if theirs and ours and theirs != ours:
            raise fail(
                f"experiment {bundle['experiment']['name']!r} differs: the bundle's source hash "
                f"is {theirs}, run {run['id']} on {url} ran {ours}"
            )
        bitwise = _same_bits(bundle, new)
        divergence: dict[str, Any] | None = None
        if on_server:
            diff = client.get(f"/api/v1/runs/{bundle['run_id']}/diff/{run['id']}")
            if not bitwise:
                try:
                    divergence = client.get(
                        f"/api/v1/runs/{bundle['run_id']}/divergence/{run['id']}"
                    )
                except ApiError as exc:
                    divergence = {"error": str(exc)}
        else:
            local = diff_fingerprints(bundle.get("fingerprint") or {}, new["fingerprint"] or {})
            local = local.with_fields(
                diff_applied_profiles(bundle.get("applied_profile"), new["applied_profile"])
            )
            diff = {**local.to_dict(), "run_a": f"bundle {bundle.get('run_id')}",
                    "run_b": run["id"]}
    result = {
        "bitwise": bitwise,
        "run_id": run["id"],
        "job_id": job["id"],
        "original_run_id": bundle.get("run_id"),
        "weights_checksum": {"original": bundle.get("weights_checksum"),
                             "replay": new["weights_checksum"]},
        "final_metrics": {"original": bundle.get("final_metrics"),
                          "replay": new["final_metrics"]},
        "diff": diff,
        "divergence": None if divergence is None else {
            k: v for k, v in divergence.items() if not k.endswith("_timeline")
        },
    }
    if as_json:
        echo_json(result)
    else:
        verdict = "bit-identical" if bitwise else "NOT bit-identical"
        typer.echo(
            f"replay run {run['id']} of run {bundle.get('run_id')} (seed {bundle['seed']}): "
            f"{verdict}"
        )
        if not bitwise or not diff["identical"]:
            typer.echo(format_diff(diff))
        if divergence is not None:
            typer.echo(format_divergence(divergence))
    raise typer.Exit(0 if bitwise else 1)


def replay_best(
    job: Annotated[int, typer.Argument(help="job whose best seeds to replay")],
    metric: Annotated[str, typer.Option("--metric", help="final metric to rank seeds by")],
    k: Annotated[int, typer.Option("--k", help="how many seeds")] = 3,
    higher_is_better: Annotated[
        bool | None,
        typer.Option("--higher-is-better/--lower-is-better",
                     help="default: lower for loss/error-like names", show_default=False),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait and report each seed")] = False,
    timeout: TimeoutOpt = 3600.0,
    as_json: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Replay a job's top K seeds under `full`; exit 0 when every one reproduced its weights."""
    payload: dict[str, Any] = {"metric": metric, "k": k}
    if higher_is_better is not None:
        payload["higher_is_better"] = higher_is_better
    with server_call(server) as client:
        created = client.post(f"/api/v1/jobs/{job}/replay-best", payload)
        if not wait:
            if as_json:
                echo_json({"job_id": created["id"]})
            else:
                typer.echo(f"replay job {created['id']} queued (seeds {created['seed_plan']})")
            return
        original = client.get(f"/api/v1/jobs/{job}/report")
        report = wait_for_report(client, created["id"], timeout)
    result = replay_outcomes(original, report, metric)
    if as_json:
        echo_json(result)
    else:
        typer.echo(f"replay job {report['id']} of job {job}: top {k} seeds by {metric}")
        for row in result["seeds"]:
            typer.echo(
                f"  seed {row['seed']}: {'reproduced' if row['reproduced'] else 'DIFFERS'} "
                f"(weights {'match' if row['weights_match'] else 'differ'}, {metric} "
                f"{row['original']!r} -> {row['replay']!r}, diff {row['difference']!r})"
            )
    raise typer.Exit(0 if result["reproduced"] else 1)

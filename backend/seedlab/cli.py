"""The `seedlab` command: up, server, agent, submit, status, cancel, experiments, db."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable
from seedlab.compare.cli import compare as compare_command
from seedlab.config import Settings, default_agent_count
from seedlab.datasets.cli import data_app
from seedlab.fingerprints.cli import diff as diff_command
from seedlab.runner.launcher import DEFAULT_MAX_ZYGOTES

app = typer.Typer(help="seedlab: reproducibility runs of TensorFlow/Keras training.")
db_app = typer.Typer(help="Database maintenance.")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")

DEFAULT_SERVER = os.environ.get("SEEDLAB_SERVER", "http://127.0.0.1:8000")
TERMINAL = {"succeeded", "failed", "cancelled"}
ServerOpt = Annotated[str, typer.Option("--server", help="seedlab server URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ParamsOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="experiment parameter KEY=VALUE, repeatable"),
]
TimeoutOpt = Annotated[float, typer.Option(help="seconds to wait at most")]


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # An idle agent polls every quarter second; one log line per poll would bury the real ones.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _client(server: str) -> SeedlabClient:
    return SeedlabClient(server, retry_seconds=10.0)


@contextmanager
def _server_call(server: str) -> Iterator[SeedlabClient]:
    """A client whose API errors become a message on stderr and exit code 2."""
    client = _client(server)
    try:
        yield client
    except ApiError as exc:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        raise _fail(detail) from None
    except ServerUnreachable as exc:
        raise _fail(str(exc)) from None
    finally:
        client.close()


def _serve(host: str, port: int, settings: Settings, on_ready: Any = None) -> None:
    import uvicorn

    from seedlab.app import create_app

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    if on_ready is not None:
        threading.Thread(target=on_ready, args=(server,), daemon=True).start()
    server.run()


@app.command()
def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    agents: Annotated[
        int | None, typer.Option("--agents", help="local agents (default: one per CPU core)")
    ] = None,
) -> None:
    """Start the server and local agents (SQLite in SEEDLAB_DATA_DIR, or SEEDLAB_DATABASE_URL)."""
    _logging()
    count = default_agent_count() if agents is None else agents
    token = os.environ.get("SEEDLAB_AGENT_TOKEN") or secrets.token_urlsafe(24)
    settings = Settings(agent_token=token)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    children: list[subprocess.Popen[bytes]] = []

    def start_agents(server: Any) -> None:
        while not server.started:
            time.sleep(0.05)
        for index in range(count):
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "seedlab.cli",
                        "agent",
                        "--server",
                        url,
                        "--name",
                        f"local-{index + 1}",
                    ],
                    env={**os.environ, "SEEDLAB_AGENT_TOKEN": token},
                )
            )
        typer.echo(f"seedlab is up at {url} with {count} local agent(s); Ctrl-C stops it")

    try:
        _serve(host, port, settings, on_ready=start_agents)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@app.command()
def server(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Start only the server (agents connect with `seedlab agent`)."""
    _logging()
    _serve(host, port, Settings())


@app.command()
def agent(
    server: ServerOpt = DEFAULT_SERVER,
    token: Annotated[
        str | None, typer.Option(envvar="SEEDLAB_AGENT_TOKEN", help="agent token")
    ] = None,
    name: Annotated[str | None, typer.Option(help="agent name shown on pages")] = None,
    max_zygotes: Annotated[
        int,
        typer.Option(
            envvar="SEEDLAB_MAX_ZYGOTES",
            min=1,
            help="zygotes kept alive (one per pre-import environment, ~640 MB each); the least "
            "recently used stops first",
        ),
    ] = DEFAULT_MAX_ZYGOTES,
    warm: Annotated[
        str,
        typer.Option(
            help="profile preset whose zygote starts with the agent, before the first claim "
            "('' for none)"
        ),
    ] = "full",
) -> None:
    """Run an agent: claim runs from the server and execute them, one at a time."""
    from seedlab.agent.worker import Agent
    from seedlab.runner.launcher import Launcher
    from seedlab.runner.profile import resolve_profile

    if warm:
        try:
            resolve_profile(warm)  # the one check of preset names, with its message
        except ValueError as exc:
            raise typer.BadParameter(f"{exc}, or '' for none") from None

    _logging()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = SeedlabClient(server, token=token)
    try:
        Agent(
            client,
            name=name,
            launcher=Launcher(max_zygotes=max_zygotes),
            warm_profile=warm or None,
        ).run_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise _fail(f"--param takes KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw  # a bare word such as dataset=breast_cancer
    return params


def _report(client: SeedlabClient, job_id: int) -> dict[str, Any]:
    report: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}/report")
    return report


def _print_report(report: dict[str, Any]) -> None:
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
    for run in report["runs"]:
        progress = f"epoch {run['epoch']}/{run['epochs']}" if run.get("epochs") else ""
        checksum = (run.get("weights_checksum") or "")[:12]
        typer.echo(
            f"  run {run['id']} seed {run['seed']} repeat {run['repeat']}: {run['status']} "
            f"{progress} {checksum} {run.get('error') or ''}".rstrip()
        )


def _show(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)


def _exit_code(report: dict[str, Any], require_bitwise: bool) -> int:
    if report["status"] != "succeeded":
        return 1
    if require_bitwise and report["verdict"] != "bitwise":
        return 3
    return 0


@app.command()
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
        bool, typer.Option("--require-bitwise", help="with --wait: exit 3 unless bitwise")
    ] = False,
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Submit a job. With --wait, print the report and exit 0 only if the job succeeded."""
    try:
        profile_value: Any = json.loads(profile) if profile.lstrip().startswith("{") else profile
    except json.JSONDecodeError as exc:
        raise _fail(
            f"--profile is not valid JSON ({exc}); use full, seeds_only, none or an object"
        ) from None
    payload: dict[str, Any] = {
        "experiment": experiment,
        "params": _parse_params(param or []),
        "seeds": seeds,
        "profile": profile_value,
    }
    if label:
        payload["label"] = label
    if tolerance:
        payload["tolerance"] = {k: float(v) for k, v in _parse_params(tolerance).items()}
    with _server_call(server) as client:
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"job {job['id']} queued")
            return
        report = _wait_report(client, job["id"], timeout)
    _show(report, as_json)
    raise typer.Exit(_exit_code(report, require_bitwise))


def _wait_report(client: SeedlabClient, job_id: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        report = _report(client, job_id)
        done = sum(report["run_counts"].get(s, 0) for s in TERMINAL)
        line = f"job {job_id}: {report['status']} ({done}/{len(report['runs'])} runs done)"
        if line != last:
            typer.echo(line, err=True)
            last = line
        if report["status"] in TERMINAL:
            return report
        if time.monotonic() > deadline:
            raise _fail(f"job {job_id} still {report['status']} after {timeout:.0f} s", 4)
        time.sleep(1.0)


@app.command()
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
    server: ServerOpt = DEFAULT_SERVER,
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
        "params": _parse_params(param or []),
        "audit": spec,
    }
    with _server_call(server) as client:
        job = client.post("/api/v1/jobs", payload)
        if not wait:
            typer.echo(json.dumps(job, indent=2) if as_json else f"audit job {job['id']} queued")
            return
        report = _wait_report(client, job["id"], timeout)
    result = {"id": report["id"], "status": report["status"], **(report["audit"] or {})}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(f"audit job {report['id']}: {report['status']}")
        typer.echo(result.get("conclusion", ""))
        for name, row in result.get("toggles", {}).items():
            typer.echo(
                f"  {name:15} breaks bitwise: {row['breaks_bitwise']!s:5} "
                f"s/epoch on {row['seconds_per_epoch_on'] or 0:.3f} "
                f"off {row['seconds_per_epoch_off'] or 0:.3f}"
            )
    raise typer.Exit(0 if report["status"] == "succeeded" else 1)


@app.command()
def status(
    job: Annotated[int, typer.Argument(help="job id")],
    as_json: JsonOpt = False,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Print a job's report (runs with their current status)."""
    with _server_call(server) as client:
        report = _report(client, job)
    _show(report, as_json)


@app.command()
def cancel(
    job: Annotated[int, typer.Argument(help="job id")], server: ServerOpt = DEFAULT_SERVER
) -> None:
    """Cancel a job: queued runs are cancelled, running ones stopped."""
    with _server_call(server) as client:
        result = client.post(f"/api/v1/jobs/{job}/cancel")
    typer.echo(f"job {job}: {result['status']}")


@app.command()
def experiments(as_json: JsonOpt = False, server: ServerOpt = DEFAULT_SERVER) -> None:
    """List the experiments the server knows, with their parameters."""
    with _server_call(server) as client:
        items = client.get("/api/v1/experiments")
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for item in items:
        defaults = " ".join(f"{k}={v}" for k, v in item["defaults"].items())
        typer.echo(f"{item['name']} (v{item['version']}): {item['description']}\n  {defaults}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (the server also does this on start)."""
    from seedlab.db import Database

    database = Database(Settings().resolved_database_url())
    database.upgrade()
    typer.echo(f"database at head: {database.engine.url.render_as_string(hide_password=True)}")


app.command("diff")(diff_command)
app.command("compare")(compare_command)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

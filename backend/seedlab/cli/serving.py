"""Serving commands: up (the server with local agents), server, agent, db."""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from seedlab.agent import executors
from seedlab.agent.client import SeedlabClient
from seedlab.cli.output import ServerOpt, fail, server_url, setup_logging
from seedlab.cli.sources import ExperimentsOpt, configured_sources, print_sources
from seedlab.config import Settings, default_agent_count, env_name, get_settings
from seedlab.lifetime import die_with_parent
from seedlab.storage import low_space_warning

log = logging.getLogger("seedlab.agent")
db_app = typer.Typer(help="Database maintenance.")

HostOpt = Annotated[str, typer.Option(help="address to listen on")]
PortOpt = Annotated[int, typer.Option(help="port to listen on")]
AuthOpt = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help="'required': every API call, agent call and page needs a token; 'none': tokenless "
        "(loopback only) (default: $SEEDLAB_AUTH, else none)",
        show_default=False,
    ),
]


def is_loopback(host: str) -> bool:
    """Whether host names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_settings(host: str, auth: str | None, base: Settings) -> Settings:
    """The settings a server bound to host runs with; refuses an open non-loopback server."""
    mode = auth or base.auth
    if mode not in ("none", "required"):
        raise fail(f"--auth takes 'none' or 'required', not {mode!r}")
    if not is_loopback(host) and mode != "required":
        raise fail(
            f"refusing to listen on {host} without authentication: anyone who can reach it "
            "could submit and cancel jobs and post fake results. Add --auth required (or "
            "SEEDLAB_AUTH=required) and create tokens with `seedlab token create --scope "
            "SCOPE --name NAME`, or bind to 127.0.0.1"
        )
    hosts = list(base.allowed_hosts)
    if host not in ("0.0.0.0", "::") and host not in hosts:
        hosts.append(host)
    return base.model_copy(update={"auth": mode, "allowed_hosts": hosts})


def check_port_free(host: str, port: int) -> None:
    """Exit 2 saying the port is taken and how to choose another, before uvicorn's raw errno."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            raise fail(
                f"port {port} on {host} is taken (another seedlab, or another program, listens "
                f"there); choose another with --port, e.g. `seedlab up --port {port + 1}` "
                f"(`make up PORT={port + 1}`)"
            ) from None


def _serve(
    host: str,
    port: int,
    settings: Settings,
    on_ready: Any = None,
    before_exit: Callable[[], None] | None = None,
) -> None:
    import uvicorn

    from seedlab.app import create_app

    check_port_free(host, port)
    warning = low_space_warning(settings.data_dir)
    if warning is not None:
        typer.echo(warning, err=True)

    class Server(uvicorn.Server):
        """Runs before_exit (stopping local agents) while the server still answers them."""

        stopping = False

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if before_exit is None or self.stopping:  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            self.stopping = True

            def stop_then_exit() -> None:
                try:
                    before_exit()
                finally:
                    super(Server, self).handle_exit(sig, frame)

            threading.Thread(target=stop_then_exit, name="stop-agents", daemon=True).start()

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    server = Server(config)
    if on_ready is not None:
        threading.Thread(target=on_ready, args=(server,), daemon=True).start()
    server.run()


def up(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    agents: Annotated[
        int | None, typer.Option("--agents", help="local agents (default: one per CPU core)")
    ] = None,
    experiments: ExperimentsOpt = None,
    auth: AuthOpt = None,
) -> None:
    """Start the server and local agents (SQLite in SEEDLAB_DATA_DIR, or SEEDLAB_DATABASE_URL)."""
    setup_logging()
    count = default_agent_count() if agents is None else agents
    token = get_settings().agent_token or secrets.token_urlsafe(24)
    settings = serving_settings(host, auth, Settings(agent_token=token))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    children: list[subprocess.Popen[bytes]] = []
    sources = [
        arg for source in configured_sources(experiments) for arg in ("--experiments", source)
    ]

    started_at = _print_start(settings)

    def start_agents(server: Any) -> None:
        while not server.started:
            time.sleep(0.05)
        for index in range(count):
            command = [sys.executable, "-m", "seedlab.cli", "agent", "--server", url, *sources]
            # One agent says which sources loaded; the others load the same ones.
            quiet = ["--quiet-sources"] if index else []
            children.append(
                subprocess.Popen(
                    [*command, "--name", f"local-{index + 1}", *quiet],
                    env={
                        **os.environ,
                        env_name("agent_token"): token,
                        env_name("parent_pid"): str(os.getpid()),
                    },
                )
            )
        _print_agents_ready(settings, [f"local-{i + 1}" for i in range(count)], started_at)
        typer.echo(f"seedlab is up at {url} with {count} local agent(s); Ctrl-C stops it")

    def stop_agents() -> None:
        # SIGTERM: each agent stops its run process and hands the run back to the queue
        # (finish "interrupted") while the server is still up to hear it.
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    try:
        _serve(host, port, settings, on_ready=start_agents, before_exit=stop_agents)
    finally:
        stop_agents()
        _requeue_local_runs(settings, [f"local-{i + 1}" for i in range(len(children))])


def _print_start(settings: Settings) -> Any:
    """Migrate now and print the data directory, the database and the migrations, one line each."""
    from seedlab.db import Database, utcnow
    from seedlab.jobs import service as jobs_service
    from seedlab.migrate import upgrade_to_head

    started_at = utcnow()
    database = Database(settings.resolved_database_url())
    try:
        before, after = upgrade_to_head(database.engine)
        with database.read() as session:
            jobs = jobs_service.job_count(session=session)
        url = database.engine.url
    finally:
        database.dispose()
    where = (
        f"SQLite at {url.database}"
        if url.get_backend_name() == "sqlite"
        else f"{url.get_backend_name()} at {url.render_as_string(hide_password=True)}"
    )
    typer.echo(f"data directory: {settings.data_dir.resolve()} ({jobs} job(s))")
    typer.echo(f"database: {where}")
    if before == after:
        typer.echo(f"migrations: current ({after})")
    else:
        typer.echo(f"migrations: applied, {before or 'empty database'} -> {after}")
    return started_at


def _print_agents_ready(settings: Settings, names: list[str], since: Any) -> None:
    """One line per local agent once it has registered (given up on after 60 s)."""
    from seedlab.db import Database
    from seedlab.queue import service as queue_service

    waiting = set(names)
    deadline = time.monotonic() + 60
    database = Database(settings.resolved_database_url())
    try:
        while waiting and time.monotonic() < deadline:
            with database.read() as session:
                ready = queue_service.agents_ready(
                    session=session, names=sorted(waiting), since=since
                )
            for name in sorted(ready):
                typer.echo(f"agent {name}: ready")
            waiting -= ready
            if waiting:
                time.sleep(0.1)
    finally:
        database.dispose()
    for name in sorted(waiting):
        typer.echo(f"agent {name}: not registered after 60 s (see its lines above)")


def _requeue_local_runs(settings: Settings, names: list[str]) -> None:
    # The local agents are gone with the server: their runs go back to the queue now rather
    # than staying `running` until a lease expires on the next start.
    from seedlab.db import Database
    from seedlab.queue import service as queue_service

    if not names:
        return
    database = Database(settings.resolved_database_url())
    try:
        with database.write() as session:
            requeued = queue_service.release_agent_runs(
                session=session, agent_names=names, hostname=socket.gethostname()
            )
        if requeued:
            typer.echo(f"requeued runs {requeued} of the stopped local agents", err=True)
    finally:
        database.dispose()


def server(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, auth: AuthOpt = None) -> None:
    """Start only the server (agents connect with `seedlab agent`)."""
    setup_logging()
    _serve(host, port, serving_settings(host, auth, get_settings()))


def _known_executor(value: str) -> str:
    """The --executor name when the registry has it; BadParameter listing the allowed ones."""
    try:
        executors.resolve(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def agent(
    server: ServerOpt = None,
    token: Annotated[
        str | None,
        typer.Option(help="agent token (default: $SEEDLAB_AGENT_TOKEN)", show_default=False),
    ] = None,
    name: Annotated[str | None, typer.Option(help="agent name shown on pages")] = None,
    max_zygotes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="zygotes kept alive (one per pre-import environment, ~640 MB each); the least "
            "recently used stops first (default: $SEEDLAB_MAX_ZYGOTES, else 2)",
            show_default=False,
        ),
    ] = None,
    warm: Annotated[
        str,
        typer.Option(
            help="profile preset whose zygote starts with the agent, before the first claim "
            "('' for none)"
        ),
    ] = "full",
    experiments: ExperimentsOpt = None,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="runs executed at once: N workers, each registered as NAME-i with its own "
            "zygotes and its share of --gpus",
        ),
    ] = 1,
    gpus: Annotated[
        str | None,
        typer.Option(
            help="GPU indices this agent owns, e.g. 0,1; each run sees only its worker's share "
            "(CUDA_VISIBLE_DEVICES)",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="label jobs can require (requires.labels), repeatable"),
    ] = None,
    quiet_sources: Annotated[
        bool, typer.Option("--quiet-sources", help="do not print the loaded sources", hidden=True)
    ] = False,
    executor: Annotated[
        str,
        typer.Option(
            help=executors.help_text(),
            metavar="[" + "|".join(executors.EXECUTORS) + "]",
            callback=_known_executor,
        ),
    ] = executors.DEFAULT_EXECUTOR,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join with --executor ray, e.g. 10.0.0.5:6379; 'auto' joins "
            "the cluster started on this host (default: $SEEDLAB_RAY_ADDRESS)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run an agent: claim runs from the server and execute them (--concurrency at once)."""
    from seedlab.agent.worker import AgentWorker

    settings = get_settings()
    options = executors.AgentOptions(
        settings=settings,
        name=name,
        concurrency=concurrency,
        gpus=parse_gpus(gpus),
        warm=warm or None,
        max_zygotes=max_zygotes,
        ray_address=ray_address,
    )
    factory = executors.resolve(executor).load()
    try:
        factory.check(options)
    except executors.ExecutorOptionError as exc:
        raise typer.BadParameter(str(exc)) from None

    setup_logging()
    if settings.parent_pid:  # started by `seedlab up`: die with it
        die_with_parent(settings.parent_pid)
    report = load_sources(configured_sources(experiments), quiet=quiet_sources)
    try:
        placements = factory.build(options)
    except executors.ExecutorUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    workers = [
        AgentWorker(
            SeedlabClient(
                server_url(server), token=token or settings.agent_token or settings.token, stop=stop
            ),
            name=placement.name,
            executor=placement.executor,
            warm_profile=placement.warm,
            catalog=report,
            labels=list(label or []),
        )
        for placement in placements
    ]
    for worker in workers:
        line = worker.executor.describe()
        if line is not None:
            typer.echo(f"agent {worker.name}: {line}", err=True)
    threads = [
        threading.Thread(target=w.run_forever, args=(stop,), name=w.name, daemon=True)
        for w in workers
    ]
    try:
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()
        # Runs in flight cancel their work and report `interrupted` (Ray: up to a drain each).
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for w in workers:
            w.client.close()


def parse_gpus(text: str | None) -> list[int]:
    """'0,1' as [0, 1]; BadParameter naming what is allowed."""
    if not text:
        return []
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"--gpus {text!r}: comma-separated GPU indices, e.g. 0,1"
        ) from None
    if any(i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise typer.BadParameter(f"--gpus {text!r}: distinct non-negative indices, e.g. 0,1")
    return ids


def load_sources(sources: list[str], *, quiet: bool = False) -> Any:
    """Load the catalog in a subprocess (this agent stays TF-free), print each source as
    loaded or FAILED, and hand the sources to this agent's run processes."""
    from seedlab.experiments.inspect import InspectFailed, inspect_catalog
    from seedlab.experiments.loader import SOURCES_ENV

    # Run processes (forked from zygotes or cold-spawned) inherit it and load the same sources.
    os.environ[SOURCES_ENV] = json.dumps(sources)
    try:
        report = inspect_catalog(sources, project_dir=Path.cwd())
    except InspectFailed as exc:
        typer.echo(f"FAILED loading experiments: {exc}", err=True)
        return None
    if not quiet:
        print_sources(report.sources)
    for status in report.failed:
        log.error("experiment source %s failed: %s", status["source"], status["error"])
    return report


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (the server also does this on start)."""
    from seedlab.db import Database
    from seedlab.migrate import upgrade_to_head

    database = Database(get_settings().resolved_database_url())
    upgrade_to_head(database.engine)
    typer.echo(f"database at head: {database.engine.url.render_as_string(hide_password=True)}")


@db_app.command("backup")
def db_backup(
    path: Annotated[str, typer.Argument(help="file to write the copy to (must not exist)")],
) -> None:
    """Copy the SQLite database while the server runs (online backup); PostgreSQL: pg_dump."""
    import sqlite3
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(get_settings().resolved_database_url())
    if url.get_backend_name() != "sqlite" or not url.database:
        raise fail(
            "`seedlab db backup` copies SQLite databases; for PostgreSQL use "
            "`pg_dump --format=custom DBNAME > FILE` (restore: `pg_restore -d DBNAME FILE`)"
        )
    target = Path(path)
    if target.exists():
        raise fail(f"{target} exists; give a new file name")
    source = sqlite3.connect(url.database)
    try:
        dest = sqlite3.connect(target)
        try:
            with dest:
                source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    typer.echo(f"backed up {url.database} to {target}")

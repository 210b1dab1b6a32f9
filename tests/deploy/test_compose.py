"""docker-compose.yml and the Dockerfile, checked without a Docker engine: every command the file
runs parses with the CLI, every SEEDLAB_* variable is a setting, the image's entrypoint is the
CLI, PostgreSQL keeps its data and is healthy before the server starts."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
import yaml

# typer 0.29 vendors click; its commands and errors are these classes, not the click package's.
from typer._click.core import Context
from typer._click.exceptions import UsageError

from seedlab.cli import app
from seedlab.config import Settings

REPO = Path(__file__).resolve().parents[2]
SEEDLAB_SERVICES = ("server", "agent")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file, parsed."""
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _dockerfile_instruction(name: str) -> list[str]:
    """The JSON-array argument of the last NAME instruction of the Dockerfile's final stage."""
    lines = [
        line for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith(f"{name} ")
    ]
    assert lines, f"Dockerfile has no {name}"
    value = json.loads(lines[-1][len(name) + 1 :])
    assert isinstance(value, list)
    return [str(item) for item in value]


def parse_cli(argv: list[str]) -> Context:
    """Parse argv with the seedlab command exactly as the console script would, running
    nothing; raises UsageError on an unknown command or option."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = group.make_context("seedlab", [])
    command_name, command, rest = group.resolve_command(ctx, list(argv))
    assert command is not None and command_name is not None, argv
    return command.make_context(command_name, rest, parent=ctx)


def _expand(value: str) -> str:
    """Compose's ${VAR:-default} and ${VAR:?message} with the variable unset."""
    return re.sub(r"\$\{(\w+)(?::[-?]([^}]*))?\}", lambda m: m.group(2) or "x", value)


def test_parse_cli_refuses_what_the_cli_does_not_have() -> None:
    """The checker itself: a missing option or command fails."""
    with pytest.raises(UsageError):
        parse_cli(["agent", "--no-such-option", "1"])
    with pytest.raises(UsageError):
        parse_cli(["no-such-command"])
    assert parse_cli(["server", "--port", "9000"]).params["port"] == 9000


def test_the_image_runs_the_cli_and_is_built_from_the_wheel() -> None:
    """ENTRYPOINT is the `seedlab` console script; the default command parses; pip installs a
    wheel, not the source tree."""
    assert _dockerfile_instruction("ENTRYPOINT") == ["seedlab"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["seedlab"] == "seedlab.cli:main"
    parse_cli(_dockerfile_instruction("CMD"))
    text = (REPO / "Dockerfile").read_text()
    assert "pip wheel" in text and re.search(r"pip install [^\n]*seedlab-\*\.whl", text)


def test_every_service_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    """Each seedlab service's command parses with those options; the image is ours."""
    services = compose["services"]
    for name in SEEDLAB_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "seedlab:latest", name
        context = parse_cli([_expand(str(arg)) for arg in service["command"]])
        assert context.command.name == service["command"][0]
    assert services["agent"]["command"][0] == "agent"
    server_ctx = parse_cli(services["server"]["command"])
    assert server_ctx.params["host"] == "0.0.0.0"  # reachable from the agents' containers


def test_every_seedlab_variable_is_a_setting(compose: dict[str, Any]) -> None:
    """SEEDLAB_* variables set by the compose file or the Dockerfile are fields of Settings."""
    fields = {f"SEEDLAB_{name.upper()}" for name in Settings.model_fields}
    seen: set[str] = set()
    for service in compose["services"].values():
        environment = service.get("environment", {})
        assert isinstance(environment, dict)
        seen |= {key for key in environment if key.startswith("SEEDLAB_")}
    seen |= set(re.findall(r"\b(SEEDLAB_\w+)=", (REPO / "Dockerfile").read_text()))
    assert seen >= {"SEEDLAB_DATABASE_URL", "SEEDLAB_AGENT_TOKEN"}
    assert seen <= fields, sorted(seen - fields)
    # The database URL names a driver that is installed (psycopg 3).
    url = _expand(compose["services"]["server"]["environment"]["SEEDLAB_DATABASE_URL"])
    assert Settings(database_url=url).resolved_database_url().startswith("postgresql+psycopg://")


def test_postgres_keeps_its_data_and_gates_the_server(compose: dict[str, Any]) -> None:
    """A named volume on PostgreSQL's data directory, a pg_isready health check, and the server
    waits for it to be healthy (it migrates on start)."""
    services = compose["services"]
    postgres = services["postgres"]
    volume = postgres["volumes"][0].split(":")
    assert volume[0] in compose["volumes"] and volume[1] == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert services["server"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_agents_scale(compose: dict[str, Any]) -> None:
    """`--scale agent=4` needs no fixed container name and no published port on the agent,
    and the agents share the server's token."""
    agent = compose["services"]["agent"]
    assert "container_name" not in agent and "ports" not in agent
    server_token = compose["services"]["server"]["environment"]["SEEDLAB_AGENT_TOKEN"]
    assert agent["environment"]["SEEDLAB_AGENT_TOKEN"] == server_token


def test_a_server_bound_beyond_loopback_requires_tokens(compose: dict[str, Any]) -> None:
    server = compose["services"]["server"]
    assert "0.0.0.0" in server["command"]
    # seedlab refuses to start on a non-loopback address without auth (docs/security.md).
    assert server["environment"]["SEEDLAB_AUTH"] == "required"
    hosts = server["environment"]["SEEDLAB_ALLOWED_HOSTS"]
    assert '"server"' in hosts  # agents reach it by the service name


RAY_SERVICES = ("ray-head", "ray-worker", "ray-agent")


def _parse_ray_cli(argv: list[str]) -> Any:
    """Parse `ray ...` with Ray's own command group, running nothing."""
    ray_scripts = pytest.importorskip("ray.scripts.scripts", reason="needs seedlab[ray]")
    group = ray_scripts.cli
    ctx = group.make_context("ray", [argv[0]], resilient_parsing=True)
    name, command, rest = group.resolve_command(ctx, list(argv))
    return command.make_context(name, rest, parent=ctx)


def test_the_ray_profile_runs_a_head_workers_and_a_ray_executor_agent(
    compose: dict[str, Any],
) -> None:
    """Profile "ray": Ray's commands parse with Ray's CLI, the agent's with ours, all three use
    the image built with the ray extra, and the agent joins the cluster before it drives it."""
    services = compose["services"]
    for name in RAY_SERVICES:
        service = services[name]
        assert service["profiles"] == ["ray"], name
        assert service["build"]["args"]["EXTRAS"] == "ray", name
        assert service["image"] == "seedlab-ray:latest", name
    assert "ARG EXTRAS" in (REPO / "Dockerfile").read_text()
    assert "[$EXTRAS]" in (REPO / "Dockerfile").read_text()

    head = _parse_ray_cli([_expand(a) for a in services["ray-head"]["command"]])
    assert head.params["head"] and head.params["port"] == 6379 and head.params["block"]
    worker = _parse_ray_cli(services["ray-worker"]["command"])
    assert worker.params["address"] == "ray-head:6379" and worker.params["block"]

    agent = services["ray-agent"]
    assert agent["entrypoint"] == ["sh", "-c"]
    join, _, run = agent["command"][0].partition(" && exec ")
    joined = _parse_ray_cli(join.split()[1:])
    assert joined.params["address"] == "ray-head:6379" and joined.params["num_cpus"] == 0
    argv = run.split()
    assert argv[0] == "seedlab"
    context = parse_cli(argv[1:])
    assert context.params["executor"] == "ray" and context.params["ray_address"] == "auto"
    assert context.params["server"] == "http://server:8000"
    assert agent["environment"]["SEEDLAB_AGENT_TOKEN"] == (
        services["server"]["environment"]["SEEDLAB_AGENT_TOKEN"]
    )

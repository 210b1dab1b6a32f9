"""What every client command shares: the server option, errors as exit code 2, parameters."""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

import typer

from seedlab.agent.client import ApiError, SeedlabClient, ServerUnreachable, StaleAttempt
from seedlab.config import get_settings

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="seedlab server URL (default: $SEEDLAB_SERVER, else http://127.0.0.1:8000)",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="API token (default: $SEEDLAB_TOKEN); needed when the server requires auth",
        show_default=False,
    ),
]
_TOKEN: ContextVar[str | None] = ContextVar("seedlab_token", default=None)
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ParamsOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="experiment parameter KEY=VALUE, repeatable"),
]
TimeoutOpt = Annotated[float, typer.Option(help="seconds to wait at most")]


def setup_logging(verbose: bool = False) -> None:
    """Log lines with time and source; httpx's per-request lines stay out of INFO."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # An idle agent polls every quarter second; one log line per poll would bury the real ones.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic logs each migration step at INFO; `seedlab up` prints one line for them instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` on stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def server_url(server: str | None) -> str:
    """The --server value, else SEEDLAB_SERVER, else the local default."""
    return server or get_settings().server


@contextmanager
def server_call(server: str | None) -> Iterator[SeedlabClient]:
    """A client whose API errors become a message on stderr and exit code 2."""
    url = server_url(server)
    client = SeedlabClient(url, token=_TOKEN.get() or get_settings().token, retry_seconds=10.0)
    try:
        yield client
    except ApiError as exc:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        raise fail(detail) from None
    except StaleAttempt as exc:  # 409: a name or content taken, a state that moved on
        raise fail(str(exc)) from None
    except ServerUnreachable as exc:
        raise fail(
            f"cannot reach the seedlab server at {url} ({exc}); start it with `seedlab up`, "
            "or point --server / SEEDLAB_SERVER at a running one"
        ) from None
    finally:
        client.close()


def with_token(command: Callable[..., Any]) -> Callable[..., Any]:
    """The command with a --token option that server_call picks up (one place for all)."""

    @functools.wraps(command)
    def wrapper(*args: Any, token: str | None = None, **kwargs: Any) -> Any:
        _TOKEN.set(token)
        return command(*args, **kwargs)

    # eval_str: the commands' modules use postponed annotations, and typer reads the options
    # (names like --json for as_json) from the signature's annotation objects.
    signature = inspect.signature(command, eval_str=True)
    extra = inspect.Parameter(
        "token", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TokenOpt
    )
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), extra]
    )
    # A copy: functools.wraps shares the wrapped function's annotations dict.
    wrapper.__annotations__ = {**command.__annotations__, "token": TokenOpt}
    return wrapper


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values read as JSON, else kept as plain strings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise fail(f"--param takes KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw  # a bare word such as dataset=breast_cancer
    return params


def echo_json(value: Any) -> None:
    """Print a value as indented JSON."""
    typer.echo(json.dumps(value, indent=2))


def num(value: Any) -> str:
    """A number with six significant digits, or n/a."""
    return "n/a" if value is None else f"{value:.6g}"

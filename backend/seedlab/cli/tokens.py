"""Token commands: create, list, revoke; they work directly on the server's database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import typer

from seedlab.cli.output import echo_json, fail
from seedlab.config import get_settings
from seedlab.errors import AppError
from seedlab.tokens.models import SCOPES, Scope

if TYPE_CHECKING:
    from seedlab.db import Database

token_app = typer.Typer(help="API tokens (stored hashed; a token is shown once, at creation).")


def _database() -> Database:
    from seedlab.db import Database
    from seedlab.migrate import upgrade_to_head

    database = Database(get_settings().resolved_database_url())
    upgrade_to_head(database.engine)
    return database


@token_app.command("create")
def create(
    scope: Annotated[str, typer.Option(help=f"one of {', '.join(SCOPES)}")],
    name: Annotated[str, typer.Option(help="a name to list and revoke it by")],
) -> None:
    """Create a token and print it (only the token: it is not shown again)."""
    from pydantic import ValidationError

    from seedlab.tokens import service
    from seedlab.tokens.schemas import TokenCreate

    try:
        spec = TokenCreate(name=name, scope=cast(Scope, scope))
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise fail(f"{problems} (scopes: {', '.join(SCOPES)})") from None
    database = _database()
    try:
        with database.write() as session:
            created = service.create_token(session=session, name=spec.name, scope=spec.scope)
    except AppError as exc:
        raise fail(exc.message) from None
    finally:
        database.dispose()
    typer.echo(created.token)


@token_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Tokens by name, scope, creation, last use and revocation (never the secrets)."""
    from seedlab.tokens import service

    database = _database()
    try:
        with database.read() as session:
            tokens = service.list_tokens(session=session)
    finally:
        database.dispose()
    if as_json:
        echo_json([t.model_dump(mode="json") for t in tokens])
        return
    for t in tokens:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        typer.echo(f"{t.id:>4}  {t.name:<24} {t.scope:<7} last used {used:<25} {state}")


@token_app.command("revoke")
def revoke(name_or_id: Annotated[str, typer.Argument(help="token name or id")]) -> None:
    """Revoke a token: it stops working at once, sessions signed in with it end."""
    from seedlab.tokens import service

    database = _database()
    try:
        with database.write() as session:
            token = service.revoke_token(session=session, name_or_id=name_or_id)
    except AppError as exc:
        raise fail(exc.message) from None
    finally:
        database.dispose()
    typer.echo(f"revoked token {token.name!r} ({token.scope})")

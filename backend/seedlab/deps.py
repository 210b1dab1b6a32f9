"""FastAPI dependencies: the request's unit of work, settings, the agent token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from seedlab.cache import ResultCache
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.errors import Unauthorized


def _database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def _write_session(request: Request) -> Iterator[Session]:
    # The one commit point of a request: commits when the endpoint returns, before the response
    # is sent (scope="function"), so an acknowledged write is durable.
    with _database(request).write() as session:
        yield session


def _read_session(request: Request) -> Iterator[Session]:
    with _database(request).read() as session:
        yield session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _cache(request: Request) -> ResultCache:
    cache: ResultCache = request.app.state.cache
    return cache


def _agent_scope(request: Request) -> None:
    # The security middleware already checked the credential; this guards against a router
    # mounted where no policy rule sends agent scope.
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.scope not in ("agent", "admin"):
        raise Unauthorized("agent endpoints need an agent token ('Authorization: Bearer <token>')")


def principal_scope(request: Request) -> str:
    """The caller's token scope ('admin' for the tokenless local user)."""
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "scope", "read"))


M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency validating the raw request body against model in one pass.

    FastAPI would json.loads the body into Python objects first and validate those; for large
    bodies (metric batches) pydantic's own JSON parser is several times cheaper.
    """

    async def parse(request: Request) -> M:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(_errors(exc)) from None

    return parse


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    # The same shape as FastAPI's body errors, without echoing the input back (it can be a
    # 50,000-element list, or NaN, which JSON cannot carry).
    return [
        {
            "type": error["type"],
            "loc": ("body", *error["loc"]),
            "msg": error["msg"],
            **({"ctx": {k: str(v) for k, v in error["ctx"].items()}} if "ctx" in error else {}),
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra documenting a json_body() request body (FastAPI cannot see it)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, definitions)}},
        }
    }


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    # OpenAPI resolves "#/$defs/..." against the whole document, so nested models are inlined.
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


DatabaseDep = Annotated[Database, Depends(_database)]
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
CacheDep = Annotated[ResultCache, Depends(_cache)]
AgentAuth = Depends(_agent_scope)
ScopeDep = Annotated[str, Depends(principal_scope)]
# Ids are PostgreSQL `integer` columns; a larger number can name nothing.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="an id (1 .. 2**31-1)")]

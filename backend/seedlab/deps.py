"""FastAPI dependencies: the request's unit of work, settings, the agent token."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

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


def _agent_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = _settings(request).agent_token
    if not expected:
        return
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given, expected):
        raise Unauthorized("agent endpoints need 'Authorization: Bearer <SEEDLAB_AGENT_TOKEN>'")


WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
AgentAuth = Depends(_agent_token)

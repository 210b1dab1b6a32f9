"""Sign-out ends the session server-side: a copy of the old cookie stops working at once
(issue 19, item 7), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.security.models import SigninSession
from seedlab.tokens import service as tokens_service


@pytest.fixture
def locked(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    settings = settings.model_copy(update={"auth": "required"})
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))) as client:
        database: Database = client.app.state.database  # type: ignore[attr-defined]
        with database.write() as session:
            token = tokens_service.create_token(session=session, name="me", scope="read").token
        yield client, token


def _sign_in(client: TestClient, token: str) -> str:
    response = client.post("/signin", data={"token": token, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies["seedlab_session"]


def _sessions(client: TestClient) -> int:
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(SigninSession)) or 0


def test_the_old_cookie_stops_working_after_sign_out(locked: tuple[TestClient, str]) -> None:
    client, token = locked
    old = _sign_in(client, token)
    assert client.get("/", follow_redirects=False).status_code == 200
    other_browser = _sign_in(client, token)  # a second session of the same token
    client.cookies.set("seedlab_session", old)
    assert _sessions(client) == 2
    out = client.post("/signout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    # Someone who kept a copy of the cookie is signed out too.
    client.cookies.set("seedlab_session", old)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/jobs").status_code == 401
    # Only that session ended: the other browser's still works.
    client.cookies.set("seedlab_session", other_browser)
    assert client.get("/api/v1/jobs").status_code == 200
    assert _sessions(client) == 1


def test_the_database_keeps_only_a_hash_of_the_session_key(
    locked: tuple[TestClient, str],
) -> None:
    client, token = locked
    cookie = _sign_in(client, token)
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    with database.read() as session:
        stored = session.scalars(select(SigninSession.key_hash)).all()
    assert len(stored) == 1 and stored[0] not in cookie and len(stored[0]) == 64

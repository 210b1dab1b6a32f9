"""Host allow-list, cross-site refusal, tokens and scopes, sessions and CSRF, body limits,
security headers: through the real app and a real database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.tokens import service as tokens_service

JOB = {"experiment": "seed_card_mlp", "seeds": "1:1x1"}


def _client(settings: Settings, **update: object) -> TestClient:
    settings = settings.model_copy(update=update)
    return TestClient(create_app(settings, Database(settings.resolved_database_url())))


@pytest.fixture
def open_client(settings: Settings) -> Iterator[TestClient]:
    with _client(settings) as c:
        yield c


@pytest.fixture
def locked(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client of a server with --auth required, and a token per scope."""
    with _client(settings, auth="required", agent_token="shared-agent") as c:
        database: Database = c.app.state.database  # type: ignore[attr-defined]
        tokens = {}
        with database.write() as session:
            for scope in ("read", "submit", "agent", "admin"):
                created = tokens_service.create_token(session=session, name=scope, scope=scope)
                tokens[scope] = created.token
        yield c, tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_security_headers_on_every_response(open_client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/api/v1/jobs/999", "/nowhere"):
        response = open_client.get(path)
        csp = response.headers["content-security-policy"]
        assert re.search(r"script-src 'self' 'nonce-[\w-]+';", csp), csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_unknown_host_gets_400_even_tokenless(open_client: TestClient) -> None:
    response = open_client.get("/api/v1/jobs", headers={"Host": "attacker.example:8000"})
    assert response.status_code == 400
    assert "attacker.example" in response.json()["detail"]
    assert "SEEDLAB_ALLOWED_HOSTS" in response.json()["detail"]
    assert open_client.get("/api/v1/jobs", headers={"Host": "localhost:8000"}).status_code == 200


def test_default_allow_list_is_loopback_only() -> None:
    assert Settings().allowed_hosts == ["localhost", "127.0.0.1", "::1"]


def test_cross_site_post_is_refused_in_tokenless_mode(open_client: TestClient) -> None:
    # A page on another site posting a form or fetch to the developer's local server.
    evil = open_client.post("/api/v1/jobs", json=JOB, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "cross-site" in evil.json()["detail"]
    referer = open_client.post(
        "/api/v1/jobs/1/cancel", headers={"Referer": "http://evil.example/page"}
    )
    assert referer.status_code == 403
    null_origin = open_client.post("/api/v1/jobs", json=JOB, headers={"Origin": "null"})
    assert null_origin.status_code == 403
    assert open_client.get("/api/v1/jobs").json()["total"] == 0  # nothing was created
    same = open_client.post("/api/v1/jobs", json=JOB, headers={"Origin": "http://testserver"})
    assert same.status_code == 201
    assert open_client.post("/api/v1/jobs", json=JOB).status_code == 201  # non-browser client


def test_required_auth_needs_a_token_everywhere_but_health(
    locked: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = locked
    assert client.get("/api/v1/health").status_code == 200
    for method, path in (("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs"),
                         ("GET", "/openapi.json"), ("POST", "/api/v1/agent/claim")):
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    page = client.get("/jobs/1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=/jobs/1"
    bad = client.get("/api/v1/jobs", headers=_bearer("sl_wrong"))
    assert bad.status_code == 401 and "unknown or revoked" in bad.json()["detail"]


def test_scopes(locked: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = locked
    read, submit, agent = (_bearer(tokens[s]) for s in ("read", "submit", "agent"))
    assert client.get("/api/v1/jobs", headers=read).status_code == 200
    refused = client.post("/api/v1/jobs", json=JOB, headers=read)
    assert refused.status_code == 403 and "'read'" in refused.json()["detail"]
    job = client.post("/api/v1/jobs", json=JOB, headers=submit)
    assert job.status_code == 201
    assert client.post(f"/api/v1/jobs/{job.json()['id']}/cancel", headers=read).status_code == 403
    # An agent token works only on agent endpoints.
    only_agent = client.get("/api/v1/jobs", headers=agent)
    assert only_agent.status_code == 403 and "/api/v1/agent/" in only_agent.json()["detail"]
    registered = client.post(
        "/api/v1/agent/register", json={"name": "a", "hostname": "box-7", "pid": 4242},
        headers=agent,
    )
    assert registered.status_code == 201
    # The shared SEEDLAB_AGENT_TOKEN keeps working as an agent credential, for the agents it
    # registered: an agent is bound to the token that registered it (issue 19).
    local = client.post(
        "/api/v1/agent/register", json={"name": "local", "hostname": "box-7", "pid": 4242},
        headers=_bearer("shared-agent"),
    )
    assert local.status_code == 201
    assert client.post(
        "/api/v1/agent/claim", json={"agent_id": local.json()["id"]},
        headers=_bearer("shared-agent"),
    ).status_code in (200, 204)
    assert client.post(
        "/api/v1/agent/claim", json={"agent_id": registered.json()["id"]},
        headers=_bearer("shared-agent"),
    ).status_code == 403
    assert client.post("/api/v1/agent/claim", json={"agent_id": 1}, headers=read).status_code == 403
    # Token management is admin only.
    assert client.get("/api/v1/tokens", headers=submit).status_code == 403
    assert client.get("/api/v1/tokens", headers=_bearer(tokens["admin"])).status_code == 200
    # The agents list hides host details from read tokens.
    seen_by_read = client.get("/api/v1/agents", headers=read).json()[0]
    assert seen_by_read["hostname"] == "" and seen_by_read["pid"] is None
    seen_by_submit = client.get("/api/v1/agents", headers=submit).json()[0]
    assert seen_by_submit["hostname"] == "box-7" and seen_by_submit["pid"] == 4242


def test_revoked_token_stops_working_and_last_use_is_recorded(
    locked: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = locked
    admin = _bearer(tokens["admin"])
    assert client.get("/api/v1/jobs", headers=_bearer(tokens["read"])).status_code == 200
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert listed["read"]["last_used_at"] is not None
    assert listed["submit"]["last_used_at"] is None
    assert "token" not in listed["read"] and "token_hash" not in listed["read"]
    revoked = client.post("/api/v1/tokens/read/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/jobs", headers=_bearer(tokens["read"])).status_code == 401


def test_tokens_are_stored_hashed(locked: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = locked
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    with database.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_token").scalars().all()
    assert tokens["read"] not in stored
    assert tokens_service.hash_token(tokens["read"]) in stored


def test_browser_signin_session_cookie_and_csrf(
    locked: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = locked
    assert client.get("/signin").status_code == 200
    wrong = client.post("/signin", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    agent = client.post("/signin", data={"token": tokens["agent"], "next": "/"})
    assert agent.status_code == 401
    response = client.post(
        "/signin", data={"token": tokens["submit"], "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"  # no open redirect
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/jobs/new")
    assert page.status_code == 200
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert csrf, "the page carries no CSRF token"
    # The cookie alone cannot change state: a forged request lacks the page's token.
    assert client.post("/api/v1/jobs", json=JOB).status_code == 403
    assert client.post(
        "/api/v1/jobs", json=JOB, headers={"X-CSRF-Token": "guess"}
    ).status_code == 403
    made = client.post("/api/v1/jobs", json=JOB, headers={"X-CSRF-Token": csrf[1]})
    assert made.status_code == 201, made.text
    # A forged cookie is no session.
    client.cookies.set("seedlab_session", "forged.value.sig")
    assert client.get("/jobs/new", follow_redirects=False).status_code == 303


def test_body_limits_are_checked_before_parsing(settings: Settings) -> None:
    with _client(settings, max_body_bytes=2048) as client:
        big = b'{"experiment": "' + b"x" * 5000 + b'"}'
        declared = client.post(
            "/api/v1/jobs", content=big, headers={"Content-Type": "application/json"}
        )
        assert declared.status_code == 413 and "2,048 bytes" in declared.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            yield b'{"experiment": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        streamed = client.post(
            "/api/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/api/v1/jobs").json()["total"] == 0


def test_non_loopback_bind_refuses_to_start_without_auth(tmp_path: Path) -> None:
    import typer

    from seedlab.cli.serving import serving_settings

    base = Settings(data_dir=tmp_path)
    with pytest.raises(typer.Exit):
        serving_settings("0.0.0.0", None, base)
    with pytest.raises(typer.Exit):
        serving_settings("192.168.1.20", "none", base)
    opened = serving_settings("192.168.1.20", "required", base)
    assert opened.auth == "required" and "192.168.1.20" in opened.allowed_hosts
    local = serving_settings("127.0.0.1", None, base)
    assert local.auth == "none"

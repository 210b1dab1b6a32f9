"""One ASGI middleware in front of every route: Host, Origin, credentials, body size, headers.

It decides from the path and method alone (policy.RULES), so routes added later are covered
without touching them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seedlab.config import Settings, env_name
from seedlab.db import Database
from seedlab.security import service as security_service
from seedlab.security.policy import (
    SAFE_METHODS,
    Access,
    allowed_scopes,
    body_limit,
    rule_for,
)
from seedlab.security.sessions import (
    COOKIE,
    CSRF_HEADER,
    CSRF_QUERY,
    SessionData,
    SessionSigner,
    csrf_matches,
)
from seedlab.storage import is_disk_full
from seedlab.tokens import service as tokens_service

# Plotly sets inline style attributes on every chart element: style-src needs 'unsafe-inline'.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's scope, how it was presented, and the session's CSRF token."""

    scope: str
    name: str
    via: str  # "token", "agent-token", "session" or "anonymous"
    csrf: str | None = None
    # The API token's id (via "token" or "session"): what an agent is bound to.
    token_id: int | None = None


ANONYMOUS = Principal(scope="admin", name="local user", via="anonymous")


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Host allow-list, cross-site refusal, authentication and scopes, body limits, headers."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, database: Database, sessions: SessionSigner
    ) -> None:
        self.app = app
        self.settings = settings
        self.database = database
        self.sessions = sessions
        self.allowed_hosts = {h.lower().strip("[]") for h in settings.allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with a body limit and security headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        send = _with_headers(send, nonce)
        headers = Headers(scope=scope)
        method: str = scope["method"].upper()
        path: str = scope["path"]

        host = headers.get("host")
        if not self._host_allowed(host):
            await _error(
                send,
                400,
                f"Host {host!r} is not served here; allowed: "
                f"{sorted(self.allowed_hosts)} (set SEEDLAB_ALLOWED_HOSTS)",
            )
            return
        if method not in SAFE_METHODS and _cross_site(headers, host or ""):
            await _error(
                send,
                403,
                "cross-site request refused: its Origin (or Referer) names "
                "another site than this server",
            )
            return

        rule = rule_for(path)
        limit = body_limit(rule, self.settings)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                await _error(send, 400, "Content-Length must be a non-negative integer")
                return
            if limit is not None and int(length) > limit:
                await _error(send, 413, _too_large(limit))
                return

        principal, problem = await self._authenticate(headers)
        if problem is not None:
            await _error(send, 401, problem, bearer=True)
            return
        refusal = self._authorize(
            rule.access, method, principal, headers, scope.get("query_string", b"")
        )
        if refusal is not None:
            status, message = refusal
            if status == 401 and rule.access is Access.PAGE and method in SAFE_METHODS:
                await _redirect(send, "/signin?next=" + quote(path))
            else:
                await _error(send, status, message, bearer=status == 401)
            return
        state["principal"] = principal or ANONYMOUS

        if limit is None:
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send, limit)

    def _host_allowed(self, host: str | None) -> bool:
        if "*" in self.allowed_hosts:
            return True
        if not host:
            return False
        name = urlsplit(f"//{host}").hostname
        return name is not None and name.lower() in self.allowed_hosts

    async def _authenticate(self, headers: Headers) -> tuple[Principal | None, str | None]:
        authorization = headers.get("authorization")
        if authorization:
            kind, _, secret = authorization.partition(" ")
            secret = secret.strip()
            if kind.lower() != "bearer" or not secret:
                return None, "the Authorization header must be 'Bearer <token>'"
            expected = self.settings.agent_token
            if expected and secrets.compare_digest(secret.encode(), expected.encode()):
                shared = Principal(scope="agent", name=env_name("agent_token"), via="agent-token")
                return shared, None
            token = await anyio.to_thread.run_sync(self._lookup_token, secret)
            if token is None:
                return None, "unknown or revoked token; `seedlab token create` makes one"
            return token, None
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        if cookie:
            session = self.sessions.read(cookie)
            if session is not None:
                return await anyio.to_thread.run_sync(self._session_principal, session), None
        return None, None

    def _lookup_token(self, secret: str) -> Principal | None:
        with self.database.read() as session:
            token = tokens_service.authenticate(session=session, secret=secret)
            if token is None:
                return None
            principal = Principal(
                scope=token.scope, name=token.name, via="token", token_id=token.id
            )
            stale, token_id = tokens_service.needs_touch(token), token.id
        if stale:
            try:
                with self.database.write() as session:
                    tokens_service.touch_token(session=session, token_id=token_id)
            except Exception as exc:
                # "Last used" is bookkeeping: a full disk must not refuse the request itself
                # (a read still works; a write answers 507 on its own).
                if not is_disk_full(exc):
                    raise
        return principal

    def _session_principal(self, data: SessionData) -> Principal | None:
        with self.database.read() as session:
            token_id = security_service.signed_in_token_id(session=session, key=data.key)
            if token_id is None:
                return None  # signed out (or expired): the cookie alone proves nothing
            token = tokens_service.live_token(session=session, token_id=token_id)
            if token is None:
                return None  # revoked since sign-in: the session ends with it
            return Principal(
                scope=token.scope,
                name=token.name,
                via="session",
                csrf=data.csrf,
                token_id=token.id,
            )

    def _authorize(
        self,
        access: Access,
        method: str,
        principal: Principal | None,
        headers: Headers,
        query: bytes,
    ) -> tuple[int, str] | None:
        if access is Access.PUBLIC:
            return None
        if principal is None:
            if self.settings.auth == "required":
                return (
                    401,
                    "this server requires a token: send 'Authorization: Bearer <token>' "
                    "(seedlab --token / SEEDLAB_TOKEN) or sign in at /signin",
                )
            if access is Access.AGENT and self.settings.agent_token:
                return 401, "agent endpoints need 'Authorization: Bearer <SEEDLAB_AGENT_TOKEN>'"
            return None
        scopes = allowed_scopes(access, method)
        if access is Access.PAGE:
            if principal.scope == "agent":
                return 403, "an agent token cannot open pages; sign in with a read or submit token"
            # A page's own POST (e.g. rerun) changes state like the API does.
            scopes = allowed_scopes(Access.API, method)
        if principal.scope not in scopes:
            where = (
                " (agent tokens work only on /api/v1/agent/*)" if principal.scope == "agent" else ""
            )
            return (
                403,
                f"token scope {principal.scope!r} cannot {method} this path; it needs "
                f"one of {sorted(scopes)}{where}",
            )
        if principal.via == "session" and method not in SAFE_METHODS:
            # A cookie rides along on any request the browser makes: the CSRF token, which only
            # the server's own pages can read, proves the page made this one. Scripts send it
            # as a header; plain HTML forms in their action's query string.
            given = headers.get(CSRF_HEADER) or _query_value(query, CSRF_QUERY)
            if not csrf_matches(principal.csrf or "", given):
                return 403, f"missing or wrong CSRF token: send the page's token in {CSRF_HEADER}"
        return None

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # Counts the body as it streams in (chunked bodies carry no Content-Length); a request
        # over the limit gets 413 whatever the route made of the cut-off body.
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _error(send, 413, _too_large(limit))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not started:
                await _error(send, 413, _too_large(limit))


def _query_value(query: bytes, name: str) -> str | None:
    values = parse_qs(query.decode("latin-1")).get(name)
    return values[0] if values else None


def _cross_site(headers: Headers, host: str) -> bool:
    # Browsers send Origin on cross-site POSTs (forms and fetch); Referer is the fallback for
    # older ones. A request with neither comes from a non-browser client.
    origin = headers.get("origin") or headers.get("referer")
    if origin is None:
        return False
    if origin == "null":
        return True
    return urlsplit(origin).netloc.lower() != host.lower()


def _too_large(limit: int) -> str:
    return f"request body too large: at most {limit:,} bytes on this route"


def _with_headers(send: Send, nonce: str) -> Send:
    extra = [
        (b"content-security-policy", CSP.format(nonce=nonce).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            message["headers"] = [
                *message.get("headers", []),
                *((name, value) for name, value in extra if name not in present),
            ]
        await send(message)

    return send_with_headers


async def _error(send: Send, status: int, detail: str, *, bearer: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})

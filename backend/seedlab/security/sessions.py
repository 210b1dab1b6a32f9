"""Browser sessions: a signed cookie naming a session stored server-side, and its CSRF token.

The row (security/models.py) names the token used to sign in; sign-out deletes it, so a copy
of the cookie stops working at once, not when it expires.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "seedlab_session"
CSRF_HEADER = "x-csrf-token"
# Plain HTML forms cannot set headers: they carry the token in their action URL.
CSRF_QUERY = "csrf_token"
MAX_AGE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class SessionData:
    """What a session cookie carries: the key of its stored session and its CSRF token."""

    key: str
    csrf: str


class SessionSigner:
    """Signs and verifies session cookies with a server secret."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="seedlab-session")

    def issue(self) -> tuple[str, SessionData]:
        """A new cookie value and what it carries (the caller stores the session's key)."""
        data = SessionData(key=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(24))
        return self._serializer.dumps({"s": data.key, "c": data.csrf}), data

    def read(self, value: str) -> SessionData | None:
        """The session in a cookie value, or None when it is forged, malformed or expired."""
        try:
            data = self._serializer.loads(value, max_age=MAX_AGE_SECONDS)
        except (BadSignature, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        # A cookie of an older server names a token, not a stored session: it signs in again.
        key, csrf = data.get("s"), data.get("c")
        if not isinstance(key, str) or not key or not isinstance(csrf, str):
            return None
        return SessionData(key, csrf)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a request's CSRF header carries the session's token."""
    return (
        bool(expected)
        and given is not None
        and hmac.compare_digest(expected.encode(), given.encode())
    )


def load_secret(data_dir: Path) -> bytes:
    """The server's session secret, created once in the data directory (mode 0600)."""
    path = data_dir / "session.key"
    if path.exists():
        return path.read_bytes()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server process on the same data directory won the race
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret

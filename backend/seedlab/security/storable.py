"""Text the databases cannot store is refused before any route sees it, the same on both engines.

PostgreSQL's text and JSONB cannot hold NUL (U+0000), and neither engine can encode an unpaired
surrogate (U+D800-U+DFFF, which JSON's \\ud800 escapes can produce) as UTF-8. SQLite stores a NUL
but the run process then fails on it. One rule for every JSON body and query string: 422 naming
the field, before validation, so `POST /api/v1/jobs/plan` and submitting agree.
"""

from __future__ import annotations

import json
import re
from email.message import Message as EmailMessage
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RULE = (
    "text cannot hold NUL (\\u0000) or unpaired surrogates (\\ud800-\\udfff): the database "
    "cannot store them; every other Unicode character is allowed"
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In valid JSON such text can only come from an escape (raw control characters and surrogates
# are invalid): a body without one is not parsed twice (metric batches are up to 32 MiB).
_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")
MAX_LOC = 100


def unstorable(text: str) -> bool:
    """Whether text holds a character no engine can store."""
    return _UNSTORABLE.search(text) is not None


def first_unstorable(value: Any) -> list[str | int] | None:
    """The path (keys and indices) to the first key or string that cannot be stored, or None."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if unstorable(node):
                return path
        elif isinstance(node, dict):
            for key, item in node.items():
                if isinstance(key, str) and unstorable(key):
                    return [*path, _printable(key)]
                stack.append((item, [*path, key]))
        elif isinstance(node, list):
            stack.extend((item, [*path, index]) for index, item in enumerate(node))
    return None


def _printable(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)[:MAX_LOC]


def _is_json(content_type: str | None) -> bool:
    # The bodies FastAPI reads as JSON: no content type, application/json, application/*+json.
    if not content_type:
        return True
    message = EmailMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def problem(loc: list[str | int]) -> dict[str, Any]:
    """A 422 body in the shape of the request validation errors, naming the field."""
    shown = [_printable(p) if isinstance(p, str) else p for p in loc]
    where = ".".join(str(p) for p in shown)
    return {
        "detail": f"{where}: {RULE}",
        "errors": [{"type": "unstorable_text", "loc": shown, "msg": RULE}],
    }


class StorableInputMiddleware:
    """422 for a JSON body or query string holding text the database cannot store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the query string, then a JSON body (buffered: the body limit is already on)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if unstorable(name) or unstorable(value):
                await _refuse(send, ["query", _printable(name)])
                return
        headers = Headers(scope=scope)
        if scope["method"].upper() not in ("POST", "PUT", "PATCH") or not _is_json(
            headers.get("content-type")
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        decoded = None
        if _ESCAPE.search(body):
            try:
                decoded = json.loads(body)
            except (ValueError, RecursionError):
                decoded = None  # not JSON: the route's own validation answers
        loc = first_unstorable(decoded) if decoded is not None else None
        if loc is not None:
            await _refuse(send, ["body", *loc])
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, loc: list[str | int]) -> None:
    body = json.dumps(problem(loc)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

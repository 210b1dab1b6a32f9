"""Browser sign-in with an API token: sets the HttpOnly, SameSite=Strict session cookie."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from seedlab.deps import WriteSession
from seedlab.pages.templating import templates
from seedlab.security import service as security_service
from seedlab.security.sessions import COOKIE, MAX_AGE_SECONDS, SessionSigner
from seedlab.tokens import service as tokens_service

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096


def _local(next_path: str) -> str:
    # Only a path on this server: "//evil.example" or "https://..." would make an open redirect.
    if next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return "/"


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return templates.TemplateResponse(request, "signin.html", {"next": _local(next)})


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, session: WriteSession) -> Response:
    """Check the token; on success set the session cookie and go to the page asked for."""
    form = parse_qs((await request.body())[:MAX_FORM_BYTES].decode(errors="replace"))
    secret = (form.get("token") or [""])[0].strip()
    next_path = _local((form.get("next") or ["/"])[0])
    token = tokens_service.authenticate(session=session, secret=secret) if secret else None
    if token is None or token.scope == "agent":
        message = (
            "agent tokens cannot sign in; use a read, submit or admin token"
            if token is not None
            else "unknown or revoked token"
        )
        return templates.TemplateResponse(
            request, "signin.html", {"next": next_path, "error": message}, status_code=401
        )
    signer: SessionSigner = request.app.state.sessions
    value, data = signer.issue()
    security_service.sign_in(session=session, key=data.key, token_id=token.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/signout")
def signout(request: Request, session: WriteSession) -> Response:
    """End the session server-side (its cookie stops working everywhere) and forget the cookie."""
    signer: SessionSigner = request.app.state.sessions
    data = signer.read(request.cookies.get(COOKIE, ""))
    if data is not None:
        security_service.sign_out(session=session, key=data.key)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

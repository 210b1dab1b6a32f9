"""The workers page: every agent, online or offline, its capabilities and current runs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.deps import ReadSession, SettingsDep
from seedlab.pages.templating import templates
from seedlab.queue import service as queue_service

router = APIRouter(include_in_schema=False)


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request, session: ReadSession, settings: SettingsDep) -> Response:
    """Agents, most recently seen first; offline once silent for longer than a lease."""
    agents = queue_service.agent_statuses(session=session, settings=settings)
    return templates.TemplateResponse(
        request, "agents.html", {"agents": agents, "lease_seconds": settings.lease_seconds}
    )

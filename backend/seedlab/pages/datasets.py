"""The data sets page: uploaded CSVs with their columns, and the upload form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from seedlab.config import Settings
from seedlab.datasets import service as datasets_service
from seedlab.deps import ReadSession, SettingsDep
from seedlab.pages.templating import templates

router = APIRouter(include_in_schema=False)


def _limit_text(settings: Settings) -> str:
    return f"{settings.max_dataset_bytes / 2**20:.0f} MiB"


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, session: ReadSession, settings: SettingsDep) -> Response:
    """Uploaded data sets (name, sha256, rows, columns, size) and a form to add one."""
    datasets = [
        datasets_service.describe(d) for d in datasets_service.list_datasets(session=session)
    ]
    return templates.TemplateResponse(
        request, "datasets.html", {"datasets": datasets, "limit": _limit_text(settings)}
    )

"""Data set endpoints: upload (multipart or raw CSV), list, metadata, content for agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from seedlab.datasets import service as datasets_service
from seedlab.datasets.schemas import DatasetRead
from seedlab.deps import ReadSession, SettingsDep, WriteSession

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                    },
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


async def _staged_upload(
    request: Request, settings: SettingsDep
) -> AsyncIterator[datasets_service.Upload]:
    # Declared before the write session in the endpoint, so the body streams in (and is
    # parsed) before the request's write transaction opens.
    length = request.headers.get("content-length")
    upload = await datasets_service.stage_upload(
        chunks=request.stream(),
        content_type=request.headers.get("content-type", ""),
        content_length=int(length) if length and length.isdigit() else None,
        settings=settings,
    )
    try:
        yield upload
    finally:
        upload.staged.path.unlink(missing_ok=True)  # gone already when it was stored


@router.post("", status_code=201, openapi_extra=UPLOAD_OPENAPI)
def add_dataset(
    upload: Annotated[datasets_service.Upload, Depends(_staged_upload)],
    session: WriteSession,
    settings: SettingsDep,
    response: Response,
    name: str | None = Query(None, description="data set name (default: the file's name)"),
) -> DatasetRead:
    """Upload a CSV (multipart field `file`, or a text/csv body): 201 when stored, 200 when
    the same content was already there."""
    dataset, created = datasets_service.add_dataset(
        session=session,
        upload=upload,
        name=name if name is not None else upload.staged.fields.get("name"),
        settings=settings,
    )
    if not created:
        response.status_code = 200
    return datasets_service.describe(dataset)


@router.get("")
def list_datasets(session: ReadSession) -> list[DatasetRead]:
    """Every uploaded data set, newest first."""
    return [datasets_service.describe(d) for d in datasets_service.list_datasets(session=session)]


@router.get("/{ref}")
def get_dataset(ref: str, session: ReadSession) -> DatasetRead:
    """One data set by name or sha256: size, rows and columns."""
    return datasets_service.describe(datasets_service.find_dataset(session=session, ref=ref))


@router.get("/{sha256}/content")
def dataset_content(sha256: str, session: ReadSession, settings: SettingsDep) -> FileResponse:
    """The stored CSV bytes (agents fetch a job's data set by its sha256)."""
    path = datasets_service.stored_file(session=session, sha256=sha256, settings=settings)
    return FileResponse(
        path,
        media_type="text/csv",
        headers={"ETag": f'"{path.stem}"', "Cache-Control": "public, max-age=31536000, immutable"},
    )

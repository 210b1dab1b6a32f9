"""Interactive API docs at /docs: Swagger UI from the installed fastapi-offline package (no CDN)."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter, Request, Response

from seedlab.errors import NotFound
from seedlab.pages.static import _serve
from seedlab.pages.templating import templates

# Swagger UI 5 (it renders OpenAPI 3.1, which FastAPI writes) as fastapi-offline ships it; its
# licences travel with that package. Only these two files are served.
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _swagger_dir() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static")).resolve()


@lru_cache(maxsize=1)
def swagger_version() -> str:
    """The bundling package's version: it versions the files' URLs (cached for a year)."""
    return metadata.version("fastapi-offline")


def swagger_url(name: str) -> str:
    """Versioned URL of one of Swagger UI's files."""
    return f"/static/swagger-ui-{swagger_version()}/{name}"


@router.get("/static/swagger-ui-{version}/{name}")
def swagger_file(version: str, name: str, request: Request) -> Response:
    """Swagger UI's script or stylesheet, gzip-compressed when the browser accepts it."""
    if name not in SWAGGER_FILES:
        raise NotFound(f"no Swagger UI file {name[:100]!r}")
    return _serve(_swagger_dir() / name, request)


@router.get("/docs")
def api_docs(request: Request) -> Response:
    """The REST API, browsable and callable ("Try it out") from the page."""
    return templates.TemplateResponse(
        request,
        "api_docs.html",
        {
            "swagger_js": swagger_url("swagger-ui-bundle.js"),
            "swagger_css": swagger_url("swagger-ui.css"),
        },
    )

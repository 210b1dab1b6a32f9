"""Static files: our CSS/JS and Plotly.js from the installed plotly package (no CDN)."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

import plotly
from fastapi import APIRouter, Request, Response

from seedlab.errors import NotFound
from seedlab.resources import packaged_path

STATIC_DIR = packaged_path("seedlab.frontend", "static").resolve()
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
# Versioned URLs make a year-long immutable cache safe: a new release gets a new URL.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
CACHE_FOREVER = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=32)
def _compressed(path: Path) -> tuple[bytes, bytes]:
    raw = path.read_bytes()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def _serve(path: Path, request: Request) -> Response:
    raw, packed = _compressed(path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": CACHE_FOREVER, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type=media_type, headers=headers)
    return Response(raw, media_type=media_type, headers=headers)


def plotly_url() -> str:
    """Versioned URL of Plotly.js."""
    return f"/static/plotly-{plotly.__version__}.min.js"


@lru_cache(maxsize=1)
def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def asset_url(name: str) -> str:
    """Versioned URL of one of our static files."""
    return f"/static/{_asset_version()}/{name}"


@router.get("/static/plotly-{version}.min.js")
def plotly_js(version: str, request: Request) -> Response:
    """Plotly.js from the installed package, gzip-compressed when the browser accepts it."""
    return _serve(PLOTLY_JS, request)


@router.get("/static/{version}/{name}")
def static_file(version: str, name: str, request: Request) -> Response:
    """One of seedlab's own static files."""
    if not SAFE_NAME.fullmatch(name):  # also keeps NUL bytes away from the file system
        raise NotFound(f"no static file {name[:100]!r}")
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR or not path.is_file():
        raise NotFound(f"no static file {name!r}")
    return _serve(path, request)

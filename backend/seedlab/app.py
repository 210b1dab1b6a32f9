"""The FastAPI application: routers, pages, static files, error handlers, the lease reaper."""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from seedlab import __version__
from seedlab.cache import ResultCache
from seedlab.compare.router import router as compare_router
from seedlab.config import Settings, get_settings
from seedlab.datasets.router import router as datasets_router
from seedlab.db import Database
from seedlab.divergence.router import router as divergence_router
from seedlab.errors import ERROR_RESPONSES, AppError, validation_error_body
from seedlab.experiments import service as experiments_service
from seedlab.experiments.router import router as experiments_router
from seedlab.fingerprints.router import router as fingerprints_router
from seedlab.jobs import lifecycle as jobs_lifecycle
from seedlab.jobs.router import bundle_router
from seedlab.jobs.router import router as jobs_router
from seedlab.migrate import upgrade_to_head
from seedlab.pages import router as pages_router
from seedlab.pages.errors import error_page, wants_html
from seedlab.queue import service as queue_service
from seedlab.queue.router import public_router as agents_router
from seedlab.queue.router import router as agent_protocol_router
from seedlab.runs.router import router as runs_router
from seedlab.security.middleware import SecurityMiddleware
from seedlab.security.sessions import SessionSigner, load_secret
from seedlab.security.storable import StorableInputMiddleware
from seedlab.storage import (
    RETRY_GAP_SECONDS,
    StorageFull,
    WriteOutage,
    full_message,
    is_disk_full,
)
from seedlab.tokens.router import router as tokens_router

log = logging.getLogger("seedlab.server")


class LeaseReaper:
    """Background thread that requeues runs whose agent stopped heartbeating."""

    def __init__(
        self, database: Database, interval: float, outage: WriteOutage, grace: float
    ) -> None:
        self._database = database
        self._interval = interval
        self._outage = outage
        self._grace = grace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-reaper", daemon=True)

    def start(self) -> None:
        """Start reaping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self._outage.within(self._grace):
                # No agent could heartbeat while the disk was full: a lease period after the
                # last failed write lets them catch up before a lease counts as expired.
                continue
            try:
                with self._database.write() as session:
                    requeued = queue_service.reap_expired_leases(session=session)
                if requeued:
                    log.warning("leases expired for runs %s", requeued)
            except Exception as exc:  # the reaper must outlive a transient database error
                if is_disk_full(exc):
                    self._outage.failed()
                log.exception("lease reaper pass failed")


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the application; migrates the database and syncs the catalog on start."""
    settings = settings or get_settings()
    database = database or Database(settings.resolved_database_url())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade_to_head(database.engine)
        with database.write() as session:
            experiments_service.sync_catalog(session=session)
        with database.write() as session:
            settled = jobs_lifecycle.settle_sequential(session=session)
        if settled:
            log.warning("decided the open rounds of sequential jobs %s", settled)
        reaper = LeaseReaper(
            database,
            settings.reaper_interval_seconds,
            app.state.outage,
            settings.lease_seconds + RETRY_GAP_SECONDS,
        )
        reaper.start()
        # What start-up built (modules, models, routes: most of the heap) is never garbage; out
        # of the collector's sight, a full collection no longer stalls every request for it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            reaper.stop()

    app = FastAPI(
        title="seedlab",
        version=__version__,
        description="Reproducibility runs of TensorFlow/Keras training: submit jobs, "
        "agents run every seed in an isolated deterministic process, reports give the "
        "verdict and the spread across seeds.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # pages/apidocs serves /docs from installed files; FastAPI's own pages load a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    generate_openapi = app.openapi

    def openapi_with_tokens() -> dict[str, Any]:
        # Declares the bearer token, so /docs offers "Authorize" and sends it on "Try it out".
        if app.openapi_schema is None:
            schema = generate_openapi()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["token"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (seedlab token create); none on a tokenless server",
            }
            schema["security"] = [{"token": []}, {}]
            return schema
        return app.openapi_schema

    app.openapi = openapi_with_tokens  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.database = database
    app.state.cache = ResultCache()
    app.state.outage = WriteOutage()
    # Tokenless servers keep no secret on disk: their sessions are never issued.
    app.state.sessions = SessionSigner(
        load_secret(settings.data_dir) if settings.auth == "required" else os.urandom(32)
    )
    # Added first, so it runs inside the security middleware: after its body limit.
    app.add_middleware(StorableInputMiddleware)
    app.add_middleware(
        SecurityMiddleware, settings=settings, database=database, sessions=app.state.sessions
    )

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if wants_html(request):
            return error_page(request, exc.status_code, exc.message)
        body: dict[str, object] = {"detail": exc.message}
        if exc.detail is not None:
            body["errors"] = exc.detail
        return JSONResponse(status_code=exc.status_code, content=body)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'] if p != 'query')}: {e['msg']}"
                for e in exc.errors()
            )
            return error_page(
                request, 422, f"The address has a value the page cannot use: {problems[:500]}."
            )
        return JSONResponse(status_code=422, content=validation_error_body(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code == 404:
            return error_page(
                request,
                404,
                f"There is no page at {request.url.path}. Jobs are at /jobs/ID, "
                "runs at /runs/ID, experiments at /experiments/NAME.",
            )
        return JSONResponse(
            status_code=exc.status_code, content={"detail": str(exc.detail)}, headers=exc.headers
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
        # The last line of defence behind the schemas' bounds: a number the database cannot
        # hold is the client's mistake, not the server's.
        return JSONResponse(
            status_code=422,
            content={
                "detail": "a number in the request is out of range for storage "
                "(integers: at most 2**31-1 for ids, 2**63-1 elsewhere)"
            },
        )

    async def _disk_full(request: Request, exc: Exception) -> Response:
        app.state.outage.failed()
        log.error("write failed on a full disk on %s: %s", request.url.path, exc)
        return await _app_error(
            request,
            StorageFull(full_message(data_dir=settings.data_dir, exc=exc)),
        )

    @app.exception_handler(OSError)
    @app.exception_handler(DBAPIError)
    async def _storage_error(request: Request, exc: Exception) -> Response:
        # SQLite's "database or disk is full", PostgreSQL's disk_full and a file write's ENOSPC
        # alike: the client is told where the disk is full, not "(OperationalError)".
        if is_disk_full(exc):
            return await _disk_full(request, exc)
        return await _server_error(request, exc)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Response:
        if is_disk_full(exc):  # raised outside the routes (a middleware's write)
            return await _disk_full(request, exc)
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        message = (
            f"The server failed on this request ({type(exc).__name__}); "
            "the server log has the details."
        )
        if wants_html(request):
            return error_page(request, 500, message)
        return JSONResponse(status_code=500, content={"detail": message})

    for router in (
        experiments_router,
        jobs_router,
        bundle_router,
        runs_router,
        fingerprints_router,
        divergence_router,
        compare_router,
        datasets_router,
        agents_router,
        agent_protocol_router,
        tokens_router,
        pages_router,
    ):
        app.include_router(router)

    @app.get("/api/v1/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """Liveness and the database engine in use."""
        return {"status": "ok", "version": __version__, "database": database.dialect}

    return app

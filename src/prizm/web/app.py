"""The FastAPI application: console pages, the REST API, metrics and health.

One process serves both over the same store as the command line. Pages and the API
call the same services as the CLI (integrations, connectors, jobs, users).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import RequestResponseEndpoint

from prizm.store import Store, open_store
from prizm.web import api, pages
from prizm.web.errors import install_error_handlers
from prizm.web.ratelimit import LoginLimiter, LoginLimits
from prizm.web.run_queue import RunQueue

__all__ = ["WebSettings", "create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def _security_headers(
    request: Request, call_next: RequestResponseEndpoint
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@dataclass(frozen=True)
class WebSettings:
    """Tunables of the web server."""

    run_workers: int = 2
    login_limits: LoginLimits = field(default_factory=LoginLimits)


def create_app(
    store: Store | None = None, settings: WebSettings | None = None
) -> FastAPI:
    """Build the application over ``store`` (the configured store by default)."""
    store = store or open_store()
    settings = settings or WebSettings()
    runs = RunQueue(store, workers=settings.run_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("web server started")
        yield
        runs.shutdown()
        log.info("web server stopped")

    app = FastAPI(
        title="Prizm",
        summary="Vault integrations, connectors and job runs of Prizm.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.runs = runs
    app.state.limiter = LoginLimiter(settings.login_limits)
    install_error_handlers(app)
    app.middleware("http")(_security_headers)

    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(api.system_router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

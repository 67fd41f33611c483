"""``/healthz`` and ``/metrics``, outside the versioned API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from prizm.metrics import metrics
from prizm.store.store import Store
from prizm.web.api.deps import Viewer, store
from prizm.web.errors import error_body

__all__ = ["router"]

router = APIRouter(tags=["system"])

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model=None)
def healthz(store: Annotated[Store, Depends(store)]) -> dict[str, Any] | JSONResponse:
    """Report that the server runs and its store responds. No sign-in needed."""
    try:
        with store.engine.connect() as connection:
            connection.execute(text("select 1"))
    except SQLAlchemyError:
        message = "The store does not respond. Check that the database is reachable."
        return JSONResponse(error_body("store_error", message), 503)
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(principal: Viewer) -> PlainTextResponse:
    """Serve vault call counters in the Prometheus text format (any role)."""
    return PlainTextResponse(metrics.prometheus(), media_type=PROMETHEUS_TYPE)

"""``/healthz`` and ``/metrics``, outside the versioned API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from prizm.metrics import fleet_prometheus, metrics
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
def prometheus_metrics(
    principal: Viewer, store: Annotated[Store, Depends(store)]
) -> PlainTextResponse:
    """Serve vault call counters in the Prometheus text format (any role).

    The ``prizm_vault_*`` series count this server's own calls: Check, Test
    Connection and the runs it executes. The ``prizm_runs`` and
    ``prizm_run_vault_*`` series come from the store, so they cover the runs of
    every process, workers included.
    """
    totals = [
        (
            total.integration,
            total.provider,
            total.operation,
            total.outcome,
            total.calls,
            total.retries,
        )
        for total in store.runs.call_totals()
    ]
    fleet = fleet_prometheus(totals, store.runs.status_counts())
    return PlainTextResponse(metrics.prometheus() + fleet, media_type=PROMETHEUS_TYPE)

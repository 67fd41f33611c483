"""Runs: the recent runs, and one run's progress, result and secret versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from prizm.web.api.deps import run_queue, store
from prizm.web.pages.deps import Viewer
from prizm.web.pages.render import render

__all__ = ["router"]

router = APIRouter(prefix="/runs", include_in_schema=False)

ACTIVE = ("queued", "running")
MAX_TABLES_SHOWN = 200


def _run_context(request: Request, run_id: int) -> dict[str, object]:
    record = store(request).runs.get(run_id)
    return {
        "section": "runs",
        "run": record,
        "active": record.status in ACTIVE,
        "progress": run_queue(request).progress(run_id),
        "max_tables": MAX_TABLES_SHOWN,
    }


@router.get("")
def list_page(request: Request, principal: Viewer) -> HTMLResponse:
    return render(request, "runs/list.html", _list_context(request))


@router.get("/table")
def list_table(request: Request, principal: Viewer) -> HTMLResponse:
    """Render the runs table alone, for polling while runs are active."""
    return render(request, "runs/_table.html", _list_context(request))


def _list_context(request: Request) -> dict[str, object]:
    records = store(request).runs.recent(limit=50)
    return {
        "section": "runs",
        "runs": records,
        "active": any(record.status in ACTIVE for record in records),
    }


@router.get("/{run_id}")
def detail(request: Request, run_id: int, principal: Viewer) -> HTMLResponse:
    return render(request, "runs/detail.html", _run_context(request, run_id))


@router.get("/{run_id}/panel")
def panel(request: Request, run_id: int, principal: Viewer) -> HTMLResponse:
    """Render the run's status panel alone, for polling until it ends."""
    return render(request, "runs/_panel.html", _run_context(request, run_id))

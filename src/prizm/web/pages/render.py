"""Rendering console pages with Jinja2, with the user and CSRF token in context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from prizm.web.auth import Principal, current_principal

__all__ = ["render", "render_error", "templates"]

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


templates.env.filters["when"] = _when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the signed-in user and the CSRF token."""
    principal: Principal | None = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "principal": principal,
        "csrf_token": "" if principal is None else principal.csrf_token,
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def render_error(
    request: Request, status: int, code: str, message: str
) -> HTMLResponse:
    """Render an error as a page, or as a fragment for an htmx request."""
    try:
        current_principal(request)
    except Exception:  # noqa: BLE001 - an error page must render without a user
        request.state.principal = None
    template = "_error.html" if request.headers.get("HX-Request") else "error.html"
    return render(
        request, template, {"code": code, "message": message, "status": status}, status
    )

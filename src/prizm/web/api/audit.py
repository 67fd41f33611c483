"""``/api/v1/audit``: the audit log as JSON lines, for a SIEM (admins only)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from prizm.audit import parse_since
from prizm.store.store import Store
from prizm.web.api.deps import Admin, store

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get("/audit", response_class=Response)
def audit_events(
    principal: Admin,
    store: Annotated[Store, Depends(store)],
    since: Annotated[
        str | None,
        Query(description="Only events from this time (ISO 8601) or age (7d, 24h)."),
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> Response:
    """Return audit events, oldest first, one JSON object per line."""
    events = store.audit.events(parse_since(since) if since else None, limit)
    body = "".join(
        json.dumps(event.to_dict(), ensure_ascii=False) + "\n" for event in events
    )
    return Response(body, media_type="application/x-ndjson")

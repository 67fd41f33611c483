"""``/api/v1/runs``: run history, and the progress of runs still going."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from prizm.errors import UsageError
from prizm.store.runs import STATUSES, RunRecord
from prizm.store.store import Store
from prizm.web.api.deps import Viewer, run_queue, store
from prizm.web.run_queue import RunQueue

__all__ = ["router", "run_dict"]

router = APIRouter(prefix="/runs", tags=["runs"])

StoreDep = Annotated[Store, Depends(store)]
Queue = Annotated[RunQueue, Depends(run_queue)]


def run_dict(record: RunRecord, queue: RunQueue) -> dict[str, Any]:
    """Return the run record with the live progress of a queued or running run."""
    data = record.to_dict()
    progress = queue.progress(record.id)
    data["progress"] = None if progress is None else progress.to_dict()
    return data


@router.get("")
def list_runs(
    store: StoreDep,
    queue: Queue,
    principal: Viewer,
    connector: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """List recent runs, newest first, including queued and running ones."""
    if status is not None and status not in STATUSES:
        raise UsageError(
            f"status must be one of {', '.join(STATUSES)}, not {status!r}.",
            hint="Leave it out to list runs in every status.",
        )
    return [
        run_dict(record, queue)
        for record in store.runs.recent(connector, status, limit)
    ]


@router.get("/{run_id}")
def get_run(
    run_id: int, store: StoreDep, queue: Queue, principal: Viewer
) -> dict[str, Any]:
    """Show one run: status, progress, result and the secret versions used."""
    return run_dict(store.runs.get(run_id), queue)

"""Claims on queued runs: which worker runs what, for how long, and what happens
when a worker is lost.

A worker claims a run in one transaction that locks the run's row: ``queued``
becomes ``running`` with the worker's id, the claim's number (``claims`` counts
them) and a lease. While the job runs, heartbeats extend the lease. Every write
the job makes names the claim (``RunOwner``), so only the current claim records
anything. When the lease has expired, the worker was lost: the run goes back to
``queued``, or fails with ``worker_lost`` once it has been claimed
``max_claims`` times. A message for a run that is finished, or that another
live claim runs, changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from prizm.errors import WorkerLost
from prizm.store.clock import as_utc, database_now
from prizm.store.database import session_scope
from prizm.store.models import RunFieldRow, RunRow
from prizm.store.runs import RunOwner
from prizm.store.store import Store
from prizm.worker.settings import WorkerSettings

__all__ = ["ClaimRepository", "Claimed", "NotClaimed", "Recovered"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A claim this worker now holds on a run."""

    run_id: int
    owner: RunOwner
    connector: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class NotClaimed:
    """The reason a run was not claimed: ``missing``, ``claimed`` (by another live
    claim), ``worker_lost``, or the run's finished status."""

    run_id: int
    reason: str


@dataclass
class Recovered:
    """Runs whose lease had expired: queued again, or failed as ``worker_lost``."""

    requeued: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


class ClaimRepository:
    """Claim runs, renew leases and recover the runs of lost workers."""

    def __init__(self, store: Store, settings: WorkerSettings) -> None:
        self._store = store
        self._settings = settings

    def claim(self, run_id: int, worker: str) -> Claimed | NotClaimed:
        """Take run ``run_id`` for ``worker`` if it is queued or its lease expired."""
        with session_scope(self._store.sessions) as session:
            now = database_now(session)
            row = session.scalar(
                select(RunRow).where(RunRow.id == run_id).with_for_update()
            )
            if row is None:
                return NotClaimed(run_id, "missing")
            if row.status == "running" and _expired(row, now):
                if row.claims >= self._settings.max_claims:
                    self._lose(session, row, now)
                    return NotClaimed(run_id, "worker_lost")
                log.warning(
                    "reclaiming run with expired lease run_id=%s lost_worker=%s "
                    "claim=%s",
                    run_id,
                    row.worker,
                    row.claims,
                )
                self._forget_claim(session, row)
            elif row.status != "queued":
                claimed = row.status == "running"
                return NotClaimed(run_id, "claimed" if claimed else row.status)
            return self._take(row, worker, now)

    def heartbeat(self, run_id: int, owner: RunOwner) -> bool:
        """Extend the lease of ``owner``'s claim, or return False if it was lost."""
        with session_scope(self._store.sessions) as session:
            now = database_now(session)
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(RunRow)
                    .where(
                        RunRow.id == run_id,
                        RunRow.status == "running",
                        RunRow.worker == owner.worker,
                        RunRow.claims == owner.claim,
                    )
                    .values(heartbeat_at=now, lease_expires_at=self._lease_end(now))
                ),
            )
            return result.rowcount == 1

    def recover_expired(self, limit: int = 100) -> Recovered:
        """Queue again, or fail as ``worker_lost``, each run whose lease expired.

        The rows are locked with ``SKIP LOCKED``, so schedulers running at once
        recover different runs, and a worker claiming one of them waits.
        """
        recovered = Recovered()
        with session_scope(self._store.sessions) as session:
            now = database_now(session)
            rows = session.scalars(
                select(RunRow)
                .where(
                    RunRow.status == "running",
                    RunRow.lease_expires_at.is_not(None),
                    RunRow.lease_expires_at <= now,
                )
                .order_by(RunRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                if row.claims >= self._settings.max_claims:
                    self._lose(session, row, now)
                    recovered.lost.append(row.id)
                    continue
                log.warning(
                    "queueing run again, its worker stopped renewing the lease "
                    "run_id=%s lost_worker=%s claim=%s",
                    row.id,
                    row.worker,
                    row.claims,
                )
                self._forget_claim(session, row)
                row.status = "queued"
                row.worker = None
                row.started_at = None
                row.heartbeat_at = None
                row.lease_expires_at = None
                row.dispatched_at = None
                recovered.requeued.append(row.id)
        return recovered

    def _take(self, row: RunRow, worker: str, now: datetime) -> Claimed:
        row.status = "running"
        row.worker = worker
        row.claims = (row.claims or 0) + 1
        row.started_at = now
        row.heartbeat_at = now
        row.lease_expires_at = self._lease_end(now)
        log.info("run claimed run_id=%s worker=%s claim=%s", row.id, worker, row.claims)
        return Claimed(
            run_id=row.id,
            owner=RunOwner(worker, row.claims),
            connector=row.connector_name,
            lease_expires_at=row.lease_expires_at,
        )

    def _forget_claim(self, session: Session, row: RunRow) -> None:
        """Drop what a lost claim recorded, so the run keeps one set of field uses."""
        session.execute(delete(RunFieldRow).where(RunFieldRow.run_id == row.id))
        session.expire(row, ["fields"])
        row.result = None
        row.stats = None

    def _lose(self, session: Session, row: RunRow, now: datetime) -> None:
        error = WorkerLost(
            f"The worker {row.worker} stopped renewing its claim on run {row.id} "
            f"before the run finished, and the run has been claimed {row.claims} "
            f"time(s), the maximum of {self._settings.max_claims}.",
            hint="Check that worker's logs (stopped, killed, out of memory or cut "
            "off from the store), then queue the run again with: "
            f"prizm run {row.connector_name} --queue",
        )
        self._forget_claim(session, row)
        row.status = "failed"
        row.finished_at = now
        row.lease_expires_at = None
        row.error_code = error.code
        row.error_message = error.text
        log.warning(
            "run failed, worker lost run_id=%s worker=%s claims=%s",
            row.id,
            row.worker,
            row.claims,
        )

    def _lease_end(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._settings.lease_seconds)


def _expired(row: RunRow, now: datetime) -> bool:
    return row.lease_expires_at is not None and as_utc(row.lease_expires_at) <= now

"""Stored connector schedules, and the inserting of scheduled runs when they are due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from prizm.store.clock import as_utc, database_now
from prizm.store.database import session_scope
from prizm.store.models import ConnectorRow, RunRow, ScheduleRow, utcnow

if TYPE_CHECKING:
    from prizm.store.connectors import ConnectorRecord
    from prizm.store.store import Store

__all__ = ["ScheduleRecord", "ScheduleRepository"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleRecord:
    """A connector's cron expression, its time zone and the next slot, in UTC."""

    connector_id: int
    connector: str
    cron: str
    timezone: str
    next_run_at: datetime


def _record(row: ScheduleRow, name: str) -> ScheduleRecord:
    return ScheduleRecord(
        connector_id=row.connector_id,
        connector=name,
        cron=row.cron,
        timezone=row.timezone,
        next_run_at=as_utc(row.next_run_at),
    )


NextSlot = Callable[[ScheduleRecord, datetime], datetime]
"""Returns the first slot of a schedule strictly after the given time, in UTC."""


class ScheduleRepository:
    """Set, clear and read schedules, and insert the runs that are due."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def set(
        self,
        connector: ConnectorRecord,
        cron: str,
        timezone: str,
        next_run_at: datetime,
    ) -> ScheduleRecord:
        """Give ``connector`` a schedule, replacing any it had."""
        with session_scope(self._store.sessions) as session:
            row = session.get(ScheduleRow, connector.id)
            if row is None:
                row = ScheduleRow(connector_id=connector.id)
                session.add(row)
            row.cron = cron
            row.timezone = timezone
            row.next_run_at = next_run_at
            row.updated_at = utcnow()
            session.flush()
            return _record(row, connector.name)

    def clear(self, connector: ConnectorRecord) -> bool:
        """Remove the schedule of ``connector``, and return whether it had one."""
        with session_scope(self._store.sessions) as session:
            row = session.get(ScheduleRow, connector.id)
            if row is None:
                return False
            session.delete(row)
            return True

    def get(self, connector: ConnectorRecord) -> ScheduleRecord | None:
        with session_scope(self._store.sessions) as session:
            row = session.get(ScheduleRow, connector.id)
            return None if row is None else _record(row, connector.name)

    def all(self) -> list[ScheduleRecord]:
        """Return every schedule, ordered by connector name."""
        with session_scope(self._store.sessions) as session:
            rows = session.execute(
                select(ScheduleRow, ConnectorRow.name)
                .join(ConnectorRow, ConnectorRow.id == ScheduleRow.connector_id)
                .order_by(ConnectorRow.name)
            )
            return [_record(row, name) for row, name in rows]

    def enqueue_due(self, next_slot: NextSlot, limit: int = 100) -> list[int]:
        """Insert a queued run for each due schedule, and return the run ids.

        Each due schedule row is locked with ``FOR UPDATE SKIP LOCKED`` and moved
        to its next slot in the same transaction as the run's insert, so
        schedulers running at once each take different schedules and a slot is
        inserted once. The unique index on the run's connector and slot is the
        backstop; SQLite ignores the row lock and relies on it alone. Slots missed
        while no scheduler ran produce one run, recorded for the first of them.
        """
        with session_scope(self._store.sessions) as session:
            now = database_now(session)
            due = session.execute(
                select(ScheduleRow, ConnectorRow)
                .join(ConnectorRow, ConnectorRow.id == ScheduleRow.connector_id)
                .where(ScheduleRow.next_run_at <= now)
                .order_by(ScheduleRow.next_run_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=ScheduleRow)
            ).all()
            created: list[int] = []
            for schedule, connector in due:
                record = _record(schedule, connector.name)
                run_id = self._insert_run(session, connector, record.next_run_at)
                if run_id is not None:
                    created.append(run_id)
                schedule.next_run_at = next_slot(record, max(now, record.next_run_at))
                schedule.updated_at = utcnow()
            session.flush()
            return created

    def _insert_run(
        self, session: Session, connector: ConnectorRow, slot: datetime
    ) -> int | None:
        existing = session.scalar(
            select(RunRow.id).where(
                RunRow.connector_id == connector.id, RunRow.scheduled_for == slot
            )
        )
        if existing is not None:
            log.info(
                "scheduled run already exists connector=%s slot=%s run_id=%s",
                connector.name,
                slot.isoformat(),
                existing,
            )
            return None
        row = RunRow(
            connector_id=connector.id,
            connector_name=connector.name,
            connector_type=connector.type,
            status="queued",
            scheduled_for=slot,
        )
        session.add(row)
        session.flush()
        return row.id

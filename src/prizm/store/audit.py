"""The append-only audit log: who did what, and which secret versions runs read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from prizm.store.database import session_scope
from prizm.store.models import AuditEventRow, utcnow

if TYPE_CHECKING:
    from prizm.store.store import Store

__all__ = ["AuditEvent", "AuditRepository"]


@dataclass(frozen=True)
class AuditEvent:
    """One audit event, as exported for a SIEM."""

    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target: str
    outcome: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target": self.target,
            "outcome": self.outcome,
            "details": self.details,
        }


class AuditRepository:
    """Append events and read them back; nothing here updates or deletes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, events: list[dict[str, Any]]) -> None:
        """Insert events given as dicts of the ``AuditEventRow`` columns."""
        if not events:
            return
        with session_scope(self._store.sessions) as session:
            for event in events:
                session.add(AuditEventRow(at=utcnow(), **event))

    def events(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        """Return events in the order they happened, optionally from ``since`` on."""
        query = select(AuditEventRow).order_by(AuditEventRow.id)
        if since is not None:
            query = query.where(AuditEventRow.at >= since)
        if limit is not None:
            query = query.limit(limit)
        with session_scope(self._store.sessions) as session:
            return [
                AuditEvent(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    target_type=row.target_type,
                    target=row.target,
                    outcome=row.outcome,
                    details=dict(row.details or {}),
                )
                for row in session.scalars(query)
            ]

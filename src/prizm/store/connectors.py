"""Stored connectors. Secret fields contain references, never values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prizm.errors import ConnectorExists, UnknownConnector
from prizm.references import SCHEME
from prizm.store.database import session_scope
from prizm.store.models import ConnectorRow, utcnow

if TYPE_CHECKING:
    from prizm.store.store import Store

__all__ = ["ConnectorRecord", "ConnectorRepository"]


@dataclass(frozen=True)
class ConnectorRecord:
    """A connector as stored: its type and field values or references."""

    id: int
    name: str
    type: str
    fields: dict[str, str]
    created_at: datetime
    updated_at: datetime


def _record(row: ConnectorRow) -> ConnectorRecord:
    return ConnectorRecord(
        id=row.id,
        name=row.name,
        type=row.type,
        fields=dict(row.fields or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _exists(name: str) -> ConnectorExists:
    return ConnectorExists(
        f"A connector called '{name}' already exists.",
        hint="Choose another name, or remove it first with: "
        f"prizm connector remove {name}.",
    )


class ConnectorRepository:
    """Create, read, update and delete connectors."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, name: str, type_name: str, fields: dict[str, str]) -> ConnectorRecord:
        """Store a new connector; raise ``ConnectorExists`` if the name is taken."""
        try:
            with session_scope(self._store.sessions) as session:
                if self._find(session, name) is not None:
                    raise _exists(name)
                row = ConnectorRow(name=name, type=type_name, fields=fields)
                session.add(row)
                session.flush()
                return _record(row)
        except IntegrityError:
            raise _exists(name) from None

    def update(self, name: str, fields: dict[str, str]) -> ConnectorRecord:
        """Replace the fields of an existing connector."""
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            row.fields = fields
            row.updated_at = utcnow()
            session.flush()
            return _record(row)

    def get(self, name: str) -> ConnectorRecord:
        """Return the connector called ``name`` or raise ``UnknownConnector``."""
        with session_scope(self._store.sessions) as session:
            return _record(self._row(session, name))

    def all(self) -> list[ConnectorRecord]:
        """Return every connector, ordered by name."""
        with session_scope(self._store.sessions) as session:
            rows = session.scalars(select(ConnectorRow).order_by(ConnectorRow.name))
            return [_record(row) for row in rows]

    def remove(self, name: str) -> None:
        """Delete the connector called ``name``; its runs stay in the history."""
        with session_scope(self._store.sessions) as session:
            session.delete(self._row(session, name))

    def referencing(self, integration: str) -> list[str]:
        """Return the names of connectors with a field referencing ``integration``."""
        prefix = f"{SCHEME}{integration}/"
        return [
            record.name
            for record in self.all()
            if any(
                isinstance(value, str) and value.startswith(prefix)
                for value in record.fields.values()
            )
        ]

    def _find(self, session: Session, name: str) -> ConnectorRow | None:
        row: ConnectorRow | None = session.scalar(
            select(ConnectorRow).where(ConnectorRow.name == name)
        )
        return row

    def _row(self, session: Session, name: str) -> ConnectorRow:
        row = self._find(session, name)
        if row is None:
            raise UnknownConnector(
                f"No connector is called '{name}'.",
                hint="List the configured ones with: prizm connector list.",
            )
        return row

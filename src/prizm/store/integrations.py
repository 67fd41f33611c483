"""Stored vault integrations. Credentials are sealed before they reach the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from prizm.errors import IntegrationExists, UnknownIntegration
from prizm.store.crypto import key_lock, open_sealed, seal, sealed_key_id
from prizm.store.database import session_scope
from prizm.store.models import IntegrationRow, utcnow

if TYPE_CHECKING:
    from prizm.store.store import Store

__all__ = ["IntegrationRecord", "IntegrationRepository"]


@dataclass(frozen=True)
class IntegrationRecord:
    """An integration as stored: settings in clear, credentials still sealed."""

    name: str
    type: str
    settings: dict[str, Any]
    sealed_credentials: str | None = field(repr=False)
    credential_fields: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    last_test_at: datetime | None = None
    last_test_ok: bool | None = None
    last_test_summary: str | None = None
    allowed_secrets: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> tuple[str, str, str, str]:
        """A value that changes whenever settings, credentials or the policy change."""
        return (
            self.type,
            json.dumps(self.settings, sort_keys=True),
            self.sealed_credentials or "",
            json.dumps(list(self.allowed_secrets)),
        )


def _context(name: str) -> str:
    return f"integration:{name}"


def _record(row: IntegrationRow) -> IntegrationRecord:
    return IntegrationRecord(
        name=row.name,
        type=row.type,
        settings=dict(row.settings or {}),
        sealed_credentials=row.credentials,
        credential_fields=tuple(row.credential_fields or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_test_at=row.last_test_at,
        last_test_ok=row.last_test_ok,
        last_test_summary=row.last_test_summary,
        allowed_secrets=tuple(row.allowed_secrets or ()),
    )


class IntegrationRepository:
    """Create, read, update and delete integrations."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _seal(self, name: str, credentials: dict[str, str]) -> str | None:
        """Seal under the primary key. Call with the key lock held (shared)."""
        if not credentials:
            return None
        key = self._store.master_keys()[0]
        return seal(key, json.dumps(credentials), _context(name))

    def add(
        self,
        name: str,
        type_name: str,
        settings: dict[str, Any],
        credentials: dict[str, str],
    ) -> IntegrationRecord:
        """Store a new integration; raise ``IntegrationExists`` if the name is taken.

        Sealing and committing happen under the shared key lock, so a key rotation
        never misses a row sealed with the key it is retiring.
        """
        try:
            with (
                key_lock(exclusive=False),
                session_scope(self._store.sessions) as session,
            ):
                row = IntegrationRow(
                    name=name,
                    type=type_name,
                    settings=settings,
                    credentials=self._seal(name, credentials),
                    credential_fields=sorted(credentials),
                )
                existing = session.scalar(
                    select(IntegrationRow).where(IntegrationRow.name == name)
                )
                if existing is not None:
                    raise _exists(name)
                session.add(row)
                session.flush()
                return _record(row)
        except IntegrityError:
            raise _exists(name) from None

    def update(
        self,
        name: str,
        settings: dict[str, Any],
        credentials: dict[str, str],
    ) -> IntegrationRecord:
        """Replace settings and credentials of an existing integration."""
        with key_lock(exclusive=False), session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            row.settings = settings
            row.credentials = self._seal(name, credentials)
            row.credential_fields = sorted(credentials)
            row.updated_at = utcnow()
            session.flush()
            return _record(row)

    def get(self, name: str) -> IntegrationRecord:
        """Return the integration called ``name`` or raise ``UnknownIntegration``."""
        with session_scope(self._store.sessions) as session:
            return _record(self._row(session, name))

    def find(self, name: str) -> IntegrationRecord | None:
        """Return the integration called ``name``, or None."""
        with session_scope(self._store.sessions) as session:
            row = session.scalar(
                select(IntegrationRow).where(IntegrationRow.name == name)
            )
            return None if row is None else _record(row)

    def all(self) -> list[IntegrationRecord]:
        """Return every integration, ordered by name."""
        with session_scope(self._store.sessions) as session:
            rows = session.scalars(select(IntegrationRow).order_by(IntegrationRow.name))
            return [_record(row) for row in rows]

    def names(self) -> list[str]:
        with session_scope(self._store.sessions) as session:
            return list(
                session.scalars(
                    select(IntegrationRow.name).order_by(IntegrationRow.name)
                )
            )

    def remove(self, name: str) -> None:
        """Delete the integration called ``name``."""
        with session_scope(self._store.sessions) as session:
            session.delete(self._row(session, name))

    def set_allowed(self, name: str, patterns: list[str]) -> IntegrationRecord:
        """Replace the allowed secret patterns; an empty list allows every secret."""
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            row.allowed_secrets = list(patterns)
            row.updated_at = utcnow()
            session.flush()
            return _record(row)

    def reseal(self, name: str) -> bool:
        """Re-encrypt one integration's credentials under the primary master key.

        Returns whether the row changed. The update is a compare-and-swap on the
        sealed value, so a concurrent credential change is never overwritten.
        Raises ``CredentialsUnreadable`` when no known key opens the credentials.
        """
        keys = self._store.master_keys()
        primary = keys[0]
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            sealed = row.credentials
            if sealed is None or sealed_key_id(sealed) == primary.key_id:
                return False
            plaintext = open_sealed(
                keys, sealed, _context(name), f"integration '{name}'"
            )
            resealed = seal(primary, plaintext, _context(name))
            result = session.execute(
                update(IntegrationRow)
                .where(
                    IntegrationRow.id == row.id, IntegrationRow.credentials == sealed
                )
                .values(credentials=resealed)
            )
            return bool(getattr(result, "rowcount", 0))

    def record_test(self, name: str, ok: bool, summary: str) -> None:
        """Store the outcome of the latest Test Connection."""
        with session_scope(self._store.sessions) as session:
            row = self._row(session, name)
            row.last_test_at = utcnow()
            row.last_test_ok = ok
            row.last_test_summary = summary

    def credentials(self, record: IntegrationRecord) -> dict[str, str]:
        """Decrypt the credentials of ``record``. Raises if the master key differs."""
        if record.sealed_credentials is None:
            return {}
        text = open_sealed(
            self._store.master_keys(),
            record.sealed_credentials,
            _context(record.name),
            f"integration '{record.name}'",
        )
        loaded: dict[str, str] = json.loads(text)
        return loaded

    def _row(self, session: Any, name: str) -> IntegrationRow:
        row: IntegrationRow | None = session.scalar(
            select(IntegrationRow).where(IntegrationRow.name == name)
        )
        if row is None:
            raise UnknownIntegration(
                f"No integration is called '{name}'.",
                hint="List the configured ones with: prizm integration list.",
                integration=name,
            )
        return row


def _exists(name: str) -> IntegrationExists:
    return IntegrationExists(
        f"An integration called '{name}' already exists.",
        hint="Choose another name, or remove the existing one first with: "
        f"prizm integration remove {name}.",
        integration=name,
    )

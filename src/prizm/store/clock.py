"""The time every process agrees on: the database's clock where it has one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prizm.store.models import utcnow

__all__ = ["as_utc", "database_now"]


def database_now(session: Session) -> datetime:
    """Return the current time in UTC, read from PostgreSQL when the store is on it.

    Leases are written by workers and checked by schedulers on other hosts, so
    they are measured on the one clock all of them share. SQLite is local to one
    host, so its time comes from this process.
    """
    if session.get_bind().dialect.name == "postgresql":
        now = session.scalar(select(func.now()))
        if now is not None:
            return as_utc(now)
    return utcnow()


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; SQLite returns stored times without a zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

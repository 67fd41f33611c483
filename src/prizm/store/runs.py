"""Stored job runs and the secret versions each field used. Never values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from prizm.errors import RunNotFound
from prizm.store.database import session_scope
from prizm.store.models import RunCallTotalRow, RunFieldRow, RunRow, utcnow

if TYPE_CHECKING:
    from prizm.store.connectors import ConnectorRecord
    from prizm.store.store import Store

__all__ = ["FieldUse", "RunOwner", "RunRecord", "RunRepository"]

MAX_RUN_ID = 2**63 - 1

STATUSES = ("queued", "running", "succeeded", "failed")


@dataclass(frozen=True)
class FieldUse:
    """Which integration, secret and version one field used in one attempt."""

    field: str
    reference: str
    integration: str
    secret_id: str | None
    version_id: str | None
    outcome: str
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "attempt": self.attempt,
            "reference": self.reference,
            "integration": self.integration,
            "secret_id": self.secret_id,
            "version_id": self.version_id,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class RunOwner:
    """The claim a worker holds on a run: its id and the claim's number.

    Writes made on behalf of an owner land only while the run is still running
    under that same claim, so a worker whose lease expired and whose run was taken
    over cannot record a second outcome.
    """

    worker: str
    claim: int


@dataclass(frozen=True)
class RunRecord:
    """One job run as stored."""

    id: int
    connector: str
    connector_type: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None
    result: dict[str, Any] | None
    stats: dict[str, Any] | None
    fields: list[FieldUse] = field(default_factory=list)
    scheduled_for: datetime | None = None
    worker: str | None = None
    claims: int = 0
    heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connector": self.connector,
            "connector_type": self.connector_type,
            "status": self.status,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": self.seconds,
            "error": None
            if self.error_code is None
            else {"code": self.error_code, "message": self.error_message},
            "fields": [use.to_dict() for use in self.fields],
            "result": self.result,
            "stats": self.stats,
            "scheduled_for": _iso(self.scheduled_for),
            "worker": self.worker,
            "claims": self.claims,
            "heartbeat_at": _iso(self.heartbeat_at),
            "lease_expires_at": _iso(self.lease_expires_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        connector=row.connector_name,
        connector_type=row.connector_type,
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_code=row.error_code,
        error_message=row.error_message,
        result=row.result,
        stats=row.stats,
        fields=[
            FieldUse(
                field=use.field,
                reference=use.reference,
                integration=use.integration,
                secret_id=use.secret_id,
                version_id=use.version_id,
                outcome=use.outcome,
                attempt=use.attempt,
            )
            for use in row.fields
        ],
        scheduled_for=row.scheduled_for,
        worker=row.worker,
        claims=row.claims or 0,
        heartbeat_at=row.heartbeat_at,
        lease_expires_at=row.lease_expires_at,
    )


@dataclass(frozen=True, slots=True)
class CallTotal:
    """Vault API calls of all finished runs with one integration, operation and
    outcome."""

    integration: str
    provider: str
    operation: str
    outcome: str
    calls: int
    retries: int


def _add_call_totals(session: Session, stats: dict[str, Any] | None) -> None:
    """Add the calls listed in a run's ``stats`` to the stored totals."""
    calls: Counter[tuple[str, str, str, str]] = Counter()
    retries: Counter[tuple[str, str, str, str]] = Counter()
    stats = stats or {}
    attempts = [attempt.get("calls", []) for attempt in stats.get("attempts", [])]
    for listed in [*attempts, stats.get("rotation_check_calls", [])]:
        for call in listed:
            key = (
                call["integration"],
                call["provider"],
                call["operation"],
                call["outcome"],
            )
            calls[key] += 1
            retries[key] += int(call.get("retries", 0))
    dialect = session.get_bind().dialect.name
    for key, count in calls.items():
        integration, provider, operation, outcome = key
        values = {
            "integration": integration,
            "provider": provider,
            "operation": operation,
            "outcome": outcome,
            "calls": count,
            "retries": retries[key],
        }
        if dialect in ("postgresql", "sqlite"):
            # INSERT ... ON CONFLICT DO UPDATE adds to the row in one statement, so
            # two workers that finish runs at once both count.
            dialect_module = postgresql if dialect == "postgresql" else sqlite
            statement = dialect_module.insert(RunCallTotalRow).values(**values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["integration", "provider", "operation", "outcome"],
                    set_={
                        "calls": RunCallTotalRow.calls + statement.excluded.calls,
                        "retries": RunCallTotalRow.retries + statement.excluded.retries,
                    },
                )
            )
            continue
        # NOTE: on other databases two runs finishing at once may race on a new row.
        row = session.get(RunCallTotalRow, key)
        if row is None:
            session.add(RunCallTotalRow(**values))
        else:
            row.calls += count
            row.retries += retries[key]


class RunRepository:
    """Create, update and read run records."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, connector: ConnectorRecord, status: str = "running") -> int:
        """Insert a run of ``connector`` and return its id."""
        with session_scope(self._store.sessions) as session:
            now = utcnow()
            row = RunRow(
                connector_id=connector.id,
                connector_name=connector.name,
                connector_type=connector.type,
                status=status,
                created_at=now,
                started_at=now if status == "running" else None,
            )
            session.add(row)
            session.flush()
            return row.id

    def mark_running(self, run_id: int) -> None:
        """Move a queued run to running and store its start time."""
        with session_scope(self._store.sessions) as session:
            row = self._row(session, run_id)
            row.status = "running"
            row.started_at = utcnow()

    def record_fields(
        self, run_id: int, uses: list[FieldUse], owner: RunOwner | None = None
    ) -> bool:
        """Store which secret version each field used; return whether it was stored.

        With an ``owner``, nothing is stored unless the run is still held by it.
        """
        with session_scope(self._store.sessions) as session:
            if owner is not None and not self._owned(session, run_id, owner):
                return False
            for use in uses:
                session.add(
                    RunFieldRow(
                        run_id=run_id,
                        field=use.field,
                        attempt=use.attempt,
                        reference=use.reference,
                        integration=use.integration,
                        secret_id=use.secret_id,
                        version_id=use.version_id,
                        outcome=use.outcome,
                    )
                )
            return True

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        error_code: str | None = None,
        error_message: str | None = None,
        result: dict[str, Any] | None = None,
        stats: dict[str, Any] | None = None,
        owner: RunOwner | None = None,
    ) -> bool:
        """Store the outcome of a run and its end time; return whether it was stored.

        With an ``owner``, the outcome is stored only if the run is still held by
        it, and the claim's lease ends with it.
        """
        with session_scope(self._store.sessions) as session:
            if owner is not None and not self._owned(session, run_id, owner):
                return False
            row = self._row(session, run_id)
            row.status = status
            row.finished_at = utcnow()
            row.error_code = error_code
            row.error_message = error_message
            row.result = result
            row.stats = stats
            row.lease_expires_at = None
            _add_call_totals(session, stats)
            return True

    def call_totals(self) -> list[CallTotal]:
        """Return the vault API calls of every finished run, by outcome."""
        with session_scope(self._store.sessions) as session:
            rows = session.scalars(select(RunCallTotalRow))
            return [
                CallTotal(
                    row.integration,
                    row.provider,
                    row.operation,
                    row.outcome,
                    row.calls,
                    row.retries,
                )
                for row in rows
            ]

    def status_counts(self) -> dict[str, int]:
        """Return how many runs are in each status."""
        with session_scope(self._store.sessions) as session:
            rows = session.execute(
                select(RunRow.status, func.count()).group_by(RunRow.status)
            )
            return {status: int(count) for status, count in rows}

    def get(self, run_id: int) -> RunRecord:
        """Return the run with ``run_id`` or raise ``RunNotFound``."""
        with session_scope(self._store.sessions) as session:
            return _record(self._row(session, run_id))

    def recent(
        self,
        connector: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Return the newest runs first, optionally of one connector or status."""
        query = (
            select(RunRow)
            .options(selectinload(RunRow.fields))
            .order_by(RunRow.id.desc())
        )
        if connector is not None:
            query = query.where(RunRow.connector_name == connector)
        if status is not None:
            query = query.where(RunRow.status == status)
        with session_scope(self._store.sessions) as session:
            return [_record(row) for row in session.scalars(query.limit(limit))]

    def latest_fields(self, connector: str) -> list[FieldUse]:
        """Return the field uses of the newest run of ``connector`` that has any."""
        for run in self.recent(connector, limit=20):
            if run.fields:
                last_attempt = max(use.attempt for use in run.fields)
                return [use for use in run.fields if use.attempt == last_attempt]
        return []

    def _owned(self, session: Session, run_id: int, owner: RunOwner) -> bool:
        """Lock the run's row and return whether ``owner`` still holds it."""
        row = session.scalar(
            select(RunRow).where(RunRow.id == run_id).with_for_update()
        )
        return (
            row is not None
            and row.status == "running"
            and row.worker == owner.worker
            and row.claims == owner.claim
        )

    def _row(self, session: Session, run_id: int) -> RunRow:
        # Ids outside the database's integer range cannot exist; asking for one
        # would overflow in the driver.
        in_range = 1 <= run_id <= MAX_RUN_ID
        row = (
            session.scalar(
                select(RunRow)
                .options(selectinload(RunRow.fields))
                .where(RunRow.id == run_id)
            )
            if in_range
            else None
        )
        if row is None:
            raise RunNotFound(
                f"No run has the id {run_id}.",
                hint="List the runs with: prizm runs.",
            )
        return row

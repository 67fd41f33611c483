"""Queueing runs: insert the run, then send its id to the broker.

The run's row is committed before its message is sent, so a worker never
receives an id it cannot find. ``dispatched_at`` records that the broker took
the message. A process that stops between the commit and the send leaves the run
queued and not dispatched, and a scheduler sends it later (``dispatch_pending``).
A message sent twice is harmless: the second one finds the run claimed or
finished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from celery import Celery
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, or_, select, update

from prizm.errors import BrokerUnavailable
from prizm.store.clock import database_now
from prizm.store.database import session_scope
from prizm.store.models import RunRow
from prizm.store.runs import RunRecord
from prizm.store.store import Store
from prizm.worker.app import QUEUE, TASK_NAME, celery_app
from prizm.worker.settings import WorkerSettings

__all__ = ["CeleryPublisher", "Publisher", "RunQueue", "safe_broker_url"]

log = logging.getLogger(__name__)

PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 2.0,
}


class Publisher(Protocol):
    """Sends a run's id to the workers. Implement it to use another transport."""

    def publish(self, run_id: int) -> None:
        """Send one message naming ``run_id``, or raise ``BrokerUnavailable``."""
        ...


def safe_broker_url(url: str) -> str:
    """Return the broker URL with any password masked, for messages and logs."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


class CeleryPublisher:
    """Sends the ``prizm.run`` task with the run id as its only argument."""

    def __init__(self, app: Celery, broker_url: str) -> None:
        self._app = app
        self._broker_url = broker_url

    def publish(self, run_id: int) -> None:
        try:
            self._app.send_task(
                TASK_NAME,
                args=[run_id],
                queue=QUEUE,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
        except (KombuError, RedisError, OSError) as exc:
            raise BrokerUnavailable(
                f"Run {run_id} could not be sent to the broker at "
                f"{safe_broker_url(self._broker_url)}: {exc.__class__.__name__}.",
                hint="Check that the broker is running and that PRIZM_BROKER_URL "
                "points at it.",
            ) from None


class RunQueue:
    """Queue runs for the workers and send the ones not yet dispatched."""

    def __init__(self, store: Store, publisher: Publisher) -> None:
        self.store = store
        self.publisher = publisher

    @classmethod
    def from_environment(cls, store: Store) -> RunQueue:
        settings = WorkerSettings.from_environment()
        publisher = CeleryPublisher(celery_app(settings), settings.broker_url)
        return cls(store, publisher)

    def enqueue(self, name: str) -> RunRecord:
        """Queue a run of connector ``name`` and send it to the workers.

        If the broker cannot take it, the run fails with ``broker_unavailable``
        and the error is raised, so no run waits for a message that never came.
        """
        connector = self.store.connectors.get(name)
        run_id = self.store.runs.create(connector, status="queued")
        try:
            self.publisher.publish(run_id)
        except BrokerUnavailable as error:
            self.store.runs.finish(
                run_id,
                status="failed",
                error_code=error.code,
                error_message=error.text,
            )
            raise
        self._mark_dispatched([run_id])
        log.info("run queued run_id=%s connector=%s", run_id, name)
        return self.store.runs.get(run_id)

    def dispatch(self, run_ids: Sequence[int]) -> list[int]:
        """Send each run to the workers, and return the ids the broker took.

        A run the broker did not take stays queued, not dispatched, for
        ``dispatch_pending`` to send later.
        """
        sent: list[int] = []
        for run_id in run_ids:
            try:
                self.publisher.publish(run_id)
            except BrokerUnavailable as error:
                log.error("run not dispatched run_id=%s error=%s", run_id, error.text)
                continue
            sent.append(run_id)
        self._mark_dispatched(sent)
        return sent

    def dispatch_pending(
        self,
        grace_seconds: float,
        redispatch_after: float | None = None,
        limit: int = 500,
    ) -> list[int]:
        """Send queued runs that were never dispatched, and return the ids sent.

        A run counts when it was queued more than ``grace_seconds`` ago and never
        dispatched, or, with ``redispatch_after``, dispatched longer ago than that
        and still queued (for a broker that lost its messages). The rows stay
        locked (``SKIP LOCKED``) while their messages are sent, so two schedulers
        send different runs.
        """
        with session_scope(self.store.sessions) as session:
            now = database_now(session)
            pending: ColumnElement[bool] = RunRow.dispatched_at.is_(None) & (
                RunRow.created_at < now - timedelta(seconds=grace_seconds)
            )
            if redispatch_after is not None:
                stale = RunRow.dispatched_at < now - timedelta(seconds=redispatch_after)
                pending = or_(pending, stale)
            run_ids = session.scalars(
                select(RunRow.id)
                .where(RunRow.status == "queued", pending)
                .order_by(RunRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            sent: list[int] = []
            for run_id in run_ids:
                try:
                    self.publisher.publish(run_id)
                except BrokerUnavailable as error:
                    log.error(
                        "run not dispatched run_id=%s error=%s", run_id, error.text
                    )
                    break
                sent.append(run_id)
            if sent:
                session.execute(
                    update(RunRow).where(RunRow.id.in_(sent)).values(dispatched_at=now)
                )
        if sent:
            log.info("dispatched pending runs count=%s run_ids=%s", len(sent), sent)
        return sent

    def _mark_dispatched(self, run_ids: Sequence[int]) -> None:
        if not run_ids:
            return
        with session_scope(self.store.sessions) as session:
            now = database_now(session)
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(list(run_ids)))
                .values(dispatched_at=now)
            )

"""The scheduler: queue due scheduled runs and recover runs of lost workers.

Each tick does three things, and each is safe in several schedulers at once. It
inserts a queued run for every due schedule (``ScheduleRepository.enqueue_due``).
It queues again, or fails, the runs whose lease expired (``ClaimRepository``). It
sends every queued run that was never dispatched. Several schedulers may run for
availability, because row locks in the store decide which one handles each row,
not timing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from prizm.errors import PrizmError
from prizm.redaction import scrub
from prizm.schedules import ScheduleService
from prizm.store.store import Store
from prizm.worker.claims import ClaimRepository
from prizm.worker.queue import RunQueue
from prizm.worker.settings import WorkerSettings

__all__ = ["Scheduler", "TickReport"]

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    """The run ids one tick scheduled, queued again, failed and dispatched."""

    scheduled: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "requeued": self.requeued,
            "worker_lost": self.lost,
            "dispatched": self.dispatched,
        }


class Scheduler:
    """Queues due runs and recovers lost ones, one tick at a time."""

    def __init__(
        self,
        store: Store,
        queue: RunQueue,
        settings: WorkerSettings,
        redispatch_after: float | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.settings = settings
        self.redispatch_after = redispatch_after
        self.schedules = ScheduleService(store)
        self.claims = ClaimRepository(store, settings)

    def tick(self) -> TickReport:
        """Run one tick. Errors of the store and the broker are raised."""
        report = TickReport()
        report.scheduled = self.schedules.enqueue_due()
        recovered = self.claims.recover_expired()
        report.requeued, report.lost = recovered.requeued, recovered.lost
        report.dispatched = self.queue.dispatch(report.scheduled + report.requeued)
        report.dispatched += self.queue.dispatch_pending(
            self.settings.undispatched_grace_seconds, self.redispatch_after
        )
        if report.scheduled or report.requeued or report.lost:
            log.info(
                "scheduler tick scheduled=%s requeued=%s worker_lost=%s dispatched=%s",
                report.scheduled,
                report.requeued,
                report.lost,
                len(report.dispatched),
            )
        return report

    def run(self, tick_seconds: float, stop: threading.Event) -> None:
        """Tick every ``tick_seconds`` until ``stop`` is set.

        A tick that fails on the store or the broker is logged and the next tick
        tries again, so a scheduler outlives a restart of either.
        """
        log.info("scheduler started tick_seconds=%s", tick_seconds)
        while not stop.is_set():
            try:
                self.tick()
            except (PrizmError, SQLAlchemyError) as exc:
                detail = exc.text if isinstance(exc, PrizmError) else str(exc)
                log.error(
                    "scheduler tick failed, retrying next tick error=%s detail=%s",
                    exc.__class__.__name__,
                    scrub(detail.splitlines()[0] if detail else ""),
                )
            stop.wait(tick_seconds)
        log.info("scheduler stopped")

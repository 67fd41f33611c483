"""Connector runs started from the web console, on a thread pool in the server.

``start`` stores a queued run and returns at once. A worker thread then executes it
with ``JobService.execute``, whose progress callback updates an in-memory map that
the run page polls. The run record in the store stays the source of truth for the
status and the result.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prizm.audit import current_actor, set_actor
from prizm.errors import JobFailed
from prizm.jobs import JobService
from prizm.store.connectors import ConnectorRecord
from prizm.store.runs import RunRecord
from prizm.store.store import Store

__all__ = ["Progress", "RunQueue"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """The latest progress report of a run: what it does and, if known, how far."""

    description: str
    fraction: float | None
    updated_at: float

    def to_dict(self) -> dict[str, object]:
        return {"description": self.description, "fraction": self.fraction}


class RunQueue:
    """Runs connector jobs in the background, ``workers`` at a time."""

    def __init__(self, store: Store, workers: int = 2) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="prizm-run"
        )
        self._lock = threading.Lock()
        self._progress: dict[int, Progress] = {}
        self._queued: set[int] = set()
        self._closed = False

    def start(self, connector_name: str) -> RunRecord:
        """Queue a run of the connector; return its record (status ``queued``)."""
        if self._closed:
            raise JobFailed(
                "The server is shutting down and starts no new runs.",
                hint="Start the run again when the server is back.",
            )
        connector = self.store.connectors.get(connector_name)
        run_id = self.store.runs.create(connector, status="queued")
        with self._lock:
            self._queued.add(run_id)
            self._progress[run_id] = Progress("queued", None, time.time())
        # The run's audit events name the person who started it.
        self._executor.submit(self._run, run_id, connector, current_actor())
        log.info("run queued run_id=%s connector=%s", run_id, connector.name)
        return self.store.runs.get(run_id)

    def progress(self, run_id: int) -> Progress | None:
        """Return the latest progress of a queued or running run, else None."""
        with self._lock:
            return self._progress.get(run_id)

    def _report(self, run_id: int, description: str, fraction: float | None) -> None:
        with self._lock:
            self._progress[run_id] = Progress(description, fraction, time.time())

    def _run(self, run_id: int, connector: ConnectorRecord, actor: str) -> None:
        with self._lock:
            self._queued.discard(run_id)
        set_actor(actor)
        try:
            self.store.runs.mark_running(run_id)
            self._report(run_id, "starting", None)
            JobService(self.store).execute(
                run_id,
                connector,
                lambda description, fraction: self._report(
                    run_id, description, fraction
                ),
            )
        except Exception:  # a worker must log what it cannot record
            log.exception("run could not be recorded run_id=%s", run_id)
        finally:
            with self._lock:
                self._progress.pop(run_id, None)

    def shutdown(self) -> None:
        """Stop taking runs, wait for running ones and fail those still queued."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            never_started = sorted(self._queued)
            self._queued.clear()
            self._progress.clear()
        for run_id in never_started:
            self.store.runs.finish(
                run_id,
                status="failed",
                error_code=JobFailed.code,
                error_message="The server stopped before the run started. "
                "Start it again.",
            )
            log.warning("queued run cancelled at shutdown run_id=%s", run_id)

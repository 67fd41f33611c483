"""Executing one queued run in a worker: claim, heartbeat, run the job, record.

The job is the same as in process (``JobService.execute``): the worker resolves
the connector's references itself, at run time, with its own identity, so no
secret travels through the broker.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from prizm.errors import UnknownConnector
from prizm.jobs import JobService
from prizm.store.runs import RunOwner
from prizm.store.store import Store
from prizm.worker.claims import ClaimRepository, NotClaimed
from prizm.worker.settings import WorkerSettings

__all__ = ["Heartbeat", "execute_queued_run"]

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews a claim's lease from a background thread while a run executes."""

    def __init__(
        self,
        claims: ClaimRepository,
        run_id: int,
        owner: RunOwner,
        interval: float,
    ) -> None:
        self._claims = claims
        self._run_id = run_id
        self._owner = owner
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"prizm-heartbeat-{run_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                held = self._claims.heartbeat(self._run_id, self._owner)
            except SQLAlchemyError as exc:
                log.warning(
                    "heartbeat failed, retrying run_id=%s worker=%s error=%s",
                    self._run_id,
                    self._owner.worker,
                    exc.__class__.__name__,
                )
                continue
            if not held:
                log.warning(
                    "claim lost, another worker took the run over run_id=%s "
                    "worker=%s claim=%s",
                    self._run_id,
                    self._owner.worker,
                    self._owner.claim,
                )
                return


def execute_queued_run(
    store: Store, run_id: int, worker: str, settings: WorkerSettings
) -> str:
    """Claim and execute run ``run_id``, and return its status or skip reason.

    Raises the store's errors when the store cannot be reached. The run then stays
    claimed until its lease expires, and a scheduler queues it again.
    """
    claims = ClaimRepository(store, settings)
    claim = claims.claim(run_id, worker)
    if isinstance(claim, NotClaimed):
        log.info("run skipped run_id=%s reason=%s", run_id, claim.reason)
        return f"skipped: {claim.reason}"

    try:
        connector = store.connectors.get(claim.connector)
    except UnknownConnector as error:
        store.runs.finish(
            run_id,
            status="failed",
            error_code=error.code,
            error_message=error.text,
            owner=claim.owner,
        )
        log.info("run failed run_id=%s code=%s", run_id, error.code)
        return "failed"

    def progress(description: str, fraction: float | None) -> None:
        log.debug("run progress run_id=%s step=%s", run_id, description)

    with Heartbeat(claims, run_id, claim.owner, settings.heartbeat_seconds):
        record = JobService(store).execute(run_id, connector, progress, claim.owner)

    if record.worker != claim.owner.worker or record.claims != claim.owner.claim:
        log.warning(
            "run outcome discarded, the claim was lost run_id=%s worker=%s claim=%s",
            run_id,
            worker,
            claim.owner.claim,
        )
        return "discarded"
    return record.status

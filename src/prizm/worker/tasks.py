"""The one Celery task: execute a queued run, given its id."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from prizm.errors import StoreError
from prizm.store import open_store
from prizm.worker.app import TASK_NAME
from prizm.worker.execution import execute_queued_run
from prizm.worker.settings import WorkerSettings

__all__ = ["run_task"]

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 60


@shared_task(bind=True, name=TASK_NAME, acks_late=True, reject_on_worker_lost=True)
def run_task(self: Task[Any, Any], run_id: int) -> str:
    """Execute run ``run_id``, and retry later if the store cannot be reached.

    The retries go on until the store answers, 60 seconds apart at most: without
    the store no run can be claimed, and giving up would leave the run queued with
    no message to deliver it.
    """
    worker = f"{self.request.hostname}:{os.getpid()}"
    try:
        return execute_queued_run(
            open_store(), run_id, worker, WorkerSettings.from_environment()
        )
    except (StoreError, OperationalError, InterfaceError) as exc:
        retries = int(self.request.retries or 0)
        delay = min(MAX_RETRY_DELAY, 2 ** min(retries, 6))
        log.warning(
            "store unreachable, retrying run_id=%s in %ss retry=%s error=%s",
            run_id,
            delay,
            retries + 1,
            exc.__class__.__name__,
        )
        raise self.retry(countdown=delay, max_retries=None) from None

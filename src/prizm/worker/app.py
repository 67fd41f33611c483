"""The Celery application of Prizm's workers, and its settings.

``celery -A prizm.worker.app`` finds ``app`` here, so Celery's own tools work on
the fleet, Flower among them. The broker is ``PRIZM_BROKER_URL``, Redis by default.
Celery's other brokers, RabbitMQ among them (``amqp://...``), take the same path,
because Prizm relies only on Celery's delivery settings below.
NOTE: only Redis is tested; ``broker_transport_options`` are Redis settings.

Delivery: a message is acknowledged only after its run finished
(``task_acks_late``), and a message whose worker process died is given back to the
broker (``task_reject_on_worker_lost``). Each worker process reserves one message
at a time (``worker_prefetch_multiplier=1``), so a slow run delays no other run.
Results are not stored in the broker, because the store records every run.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from prizm.logging import install_filter, protect_sdk_loggers
from prizm.worker.settings import WorkerSettings

__all__ = ["QUEUE", "TASK_NAME", "app", "celery_app", "create_app"]

QUEUE = "prizm"
TASK_NAME = "prizm.run"

_apps: dict[str, Celery] = {}
_apps_lock = threading.Lock()


def create_app(settings: WorkerSettings) -> Celery:
    """Create a Celery application for the broker in ``settings``."""
    celery = Celery("prizm", broker=settings.broker_url, set_as_current=False)
    celery.conf.update(
        include=["prizm.worker.tasks"],
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "socket_connect_timeout": 5,
        },
        # A run cut off from the broker keeps going: its outcome goes to the store,
        # and the message delivered again later finds the run finished.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return celery


def celery_app(settings: WorkerSettings | None = None) -> Celery:
    """Return this process's application for the configured broker."""
    settings = settings or WorkerSettings.from_environment()
    with _apps_lock:
        celery = _apps.get(settings.broker_url)
        if celery is None:
            celery = create_app(settings)
            _apps[settings.broker_url] = celery
        return celery


def _mask_handlers(logger: logging.Logger | None = None, **_: Any) -> None:
    """Add Prizm's redacting filter to the handlers Celery sets up."""
    for handler in (logger or logging.getLogger()).handlers:
        install_filter(handler)
    protect_sdk_loggers()


after_setup_logger.connect(_mask_handlers, weak=False)
after_setup_task_logger.connect(_mask_handlers, weak=False)

app = celery_app()

"""``prizm worker`` and ``prizm scheduler``: the processes that run queued jobs.

Both read the store from ``PRIZM_DATABASE_URL`` and the broker from
``PRIZM_BROKER_URL``. Celery is imported only when one of them starts, so the
other commands start as fast as before.
"""

from __future__ import annotations

import os
import signal
import threading
from enum import StrEnum
from types import FrameType
from typing import Annotated

import typer

from prizm.cli.context import store
from prizm.cli.integration import JsonOption
from prizm.cli.output import emit, stderr, stdout
from prizm.logging import configure_logging
from prizm.store.store import reset_stores

__all__ = ["scheduler_command", "worker_command"]


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"


VERBOSITY = {LogLevel.warning: 0, LogLevel.info: 1, LogLevel.debug: 2}

LogLevelOption = Annotated[
    LogLevel,
    typer.Option("--loglevel", help="Log level of the service (standard error)."),
]


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


def _check_store() -> None:
    """Open and migrate the store now, and warn when other hosts cannot share it."""
    opened = store()
    if opened.engine.dialect.name == "sqlite":
        stderr.print(
            "warning: the store is a SQLite file, which only processes on this host "
            "can share. Set PRIZM_DATABASE_URL to a PostgreSQL database for workers "
            "on several hosts.",
            markup=False,
        )


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Runs executed at once by this worker. Default: the number of CPUs.",
        ),
    ] = None,
    pool: Annotated[
        Pool,
        typer.Option(
            "--pool",
            help="Run jobs in child processes (prefork), in threads, or one at a "
            "time in the worker process itself (solo).",
        ),
    ] = Pool.prefork,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="Node name, unique in the fleet, where %h stands for the host name. "
            "Default: prizm-<pid>@<host>.",
        ),
    ] = None,
    events: Annotated[
        bool,
        typer.Option("--events", help="Send task events, for monitoring with Flower."),
    ] = False,
    loglevel: LogLevelOption = LogLevel.info,
) -> None:
    """Start a Celery worker that executes queued runs until it is stopped.

    SIGTERM or Ctrl-C stops it after the runs in progress have finished.
    """
    from celery.utils.nodenames import default_nodename, host_format

    from prizm.worker.app import QUEUE, celery_app

    configure_logging(verbosity=VERBOSITY[loglevel])
    _check_store()
    # Child processes open their own connections: a connection inherited across
    # fork() must not be used by two processes.
    reset_stores()
    worker = celery_app().Worker(
        hostname=host_format(default_nodename(name or f"prizm-{os.getpid()}@%h")),
        concurrency=concurrency,
        pool=pool.value,
        loglevel=loglevel.value.upper(),
        queues=[QUEUE],
        optimization="fair",
        task_events=events,
        # Workers share nothing but the queue and the store, so they skip
        # Celery's start-up synchronisation with the other workers.
        without_mingle=True,
        without_gossip=True,
    )
    worker.start()
    raise typer.Exit(int(worker.exitcode or 0))


def scheduler_command(
    tick: Annotated[
        float,
        typer.Option(
            "--tick", min=0.1, help="Seconds between two checks for due runs."
        ),
    ] = 10.0,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run one tick, print what it did and exit."),
    ] = False,
    redispatch_after: Annotated[
        float | None,
        typer.Option(
            "--redispatch-after",
            min=1,
            help="Send again runs still queued this many seconds after they were "
            "sent, for a broker that may lose messages. Default: never.",
        ),
    ] = None,
    loglevel: LogLevelOption = LogLevel.info,
    json_output: JsonOption = False,
) -> None:
    """Queue scheduled runs when they are due, and recover runs of lost workers.

    Several schedulers may run at once, and each due run is still queued once.
    """
    from prizm.worker.queue import RunQueue
    from prizm.worker.scheduler import Scheduler
    from prizm.worker.settings import WorkerSettings

    configure_logging(verbosity=VERBOSITY[loglevel])
    _check_store()
    opened = store()
    scheduler = Scheduler(
        opened,
        RunQueue.from_environment(opened),
        WorkerSettings.from_environment(),
        redispatch_after,
    )
    if once:
        report = scheduler.tick()
        emit(
            report.to_dict(),
            lambda: stdout.print(
                f"Scheduled {len(report.scheduled)}, queued again "
                f"{len(report.requeued)}, failed as worker_lost {len(report.lost)}, "
                f"dispatched {len(report.dispatched)}.",
                markup=False,
            ),
            as_json=json_output,
        )
        return

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    scheduler.run(tick, stop)

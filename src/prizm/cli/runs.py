"""``prizm run`` and ``prizm runs``: run a connector's job, and the run history."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from prizm.cli.context import job_service, store
from prizm.cli.integration import JsonOption
from prizm.cli.output import emit, json_mode, stderr, stdout
from prizm.errors import UsageError
from prizm.store.clock import as_utc
from prizm.store.models import utcnow
from prizm.store.runs import STATUSES, RunRecord

__all__ = ["run_command", "runs_command"]

MAX_TABLES_SHOWN = 50


def run_command(
    name: Annotated[str, typer.Argument(help="Connector to run.")],
    json_output: JsonOption = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print API calls and resolution timing.")
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Queue the run for a worker (prizm worker) and print its id, "
            "instead of running it in this process.",
        ),
    ] = False,
) -> None:
    """Run a connector's job now: resolve its references, connect, record."""
    if queue:
        _queue_run(name, stats, json_output)
        return
    service = job_service()
    if json_mode(json_output) or not stderr.is_terminal:
        record = service.run(name)
    else:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task(f"{name}: starting", total=None)

            def progress(description: str, fraction: float | None) -> None:
                total = 1.0 if fraction is not None else None
                bar.update(
                    task,
                    description=f"{name}: {description}",
                    completed=fraction or 0,
                    total=total,
                )

            record = service.run(name, progress)
    emit(
        record.to_dict(),
        lambda: _print_run(record, stats, error_to_stderr=True),
        as_json=json_output,
    )
    if record.status != "succeeded":
        raise typer.Exit(1)


def _queue_run(name: str, stats: bool, json_output: bool) -> None:
    from prizm.worker.queue import RunQueue

    if stats:
        raise UsageError(
            "--stats applies to runs in this process, not to queued runs.",
            hint=f"Read a queued run's statistics with: prizm runs {name} --id ID",
        )
    record = RunQueue.from_environment(store()).enqueue(name)
    emit(
        record.to_dict(),
        lambda: stdout.print(
            f"Queued run {record.id} of '{name}'. "
            f"Follow it with: prizm runs --id {record.id}",
            markup=False,
        ),
        as_json=json_output,
    )


def _print_run(
    record: RunRecord, stats: bool, *, error_to_stderr: bool = False
) -> None:
    """Print a run record. ``error_to_stderr`` puts a failed run's error line on
    standard error, as for any failed command; history shows it on stdout."""
    if record.status in ("queued", "running"):
        stdout.print(
            f"Run {record.id} of '{record.connector}' is {record.status}: "
            f"{_progress(record, utcnow())}",
            markup=False,
        )
        return
    if record.status == "succeeded":
        summary = (record.result or {}).get("summary", "")
        stdout.print(
            f"Run {record.id} of '{record.connector}' succeeded: {summary}",
            markup=False,
        )
    elif error_to_stderr:
        stdout.print(f"Run {record.id} of '{record.connector}' failed.", markup=False)
        sys.stderr.write(f"error[{record.error_code}]: {record.error_message}\n")
        sys.stderr.flush()
    else:
        stdout.print(
            f"Run {record.id} of '{record.connector}' failed: "
            f"error[{record.error_code}]: {record.error_message}",
            markup=False,
        )
    for use in record.fields:
        retry = " (retry)" if use.attempt > 1 else ""
        where = use.secret_id or use.reference
        if use.version_id:
            stdout.print(f"  {use.field}{retry}: {where} @ {use.version_id}")
        else:
            stdout.print(f"  {use.field}{retry}: {where} not read ({use.outcome})")
    if record.result:
        _print_result(record.result)
    if stats and record.stats:
        _print_stats(record.stats)


def _print_result(result: dict[str, Any]) -> None:
    if "schemas" in result:
        table = Table(box=None, pad_edge=False)
        for column in ("SCHEMA", "TABLE", "KIND", "ROWS (EST.)", "COLUMNS"):
            table.add_column(column)
        shown = 0
        for schema in result["schemas"]:
            for item in schema["tables"]:
                if shown == MAX_TABLES_SHOWN:
                    break
                columns = ", ".join(f"{c['name']} {c['type']}" for c in item["columns"])
                estimate = item.get("row_estimate")
                table.add_row(
                    schema["name"],
                    item["name"],
                    item.get("kind", ""),
                    "unknown" if estimate is None else str(estimate),
                    columns,
                )
                shown += 1
        stdout.print(table)
    if "projects" in result:
        table = Table(box=None, pad_edge=False)
        for column in ("KEY", "NAME", "TYPE"):
            table.add_column(column)
        for project in result["projects"][:MAX_TABLES_SHOWN]:
            table.add_row(
                str(project["key"]), str(project["name"]), str(project["type"])
            )
        stdout.print(table)


def _count(number: Any, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_stats(stats: dict[str, Any]) -> None:
    stdout.print("Stats:", markup=False)
    for attempt in stats.get("attempts", []):
        stdout.print(
            f"  attempt {attempt['attempt']}: "
            f"{_count(attempt['references'], 'reference')} to "
            f"{_count(attempt.get('secrets', '?'), 'secret')}, "
            f"{_count(attempt['api_calls'], 'API call')}, "
            f"resolved in {attempt['resolution_seconds'] * 1000:.1f} ms",
            markup=False,
        )
        counted: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for call in attempt.get("calls", []):
            key = (call["integration"], call["operation"], call["outcome"])
            counted.setdefault(key, []).append(call)
        for (integration, operation, outcome), calls in sorted(counted.items()):
            retries = sum(call["retries"] for call in calls)
            slowest = max(call["seconds"] for call in calls) * 1000
            stdout.print(
                f"    {integration} {operation} {outcome}: "
                f"{_count(len(calls), 'call')}, {retries} retries, "
                f"slowest {slowest:.1f} ms",
                markup=False,
            )
    checks = stats.get("rotation_check_calls", [])
    if checks:
        stdout.print(
            f"  rotation check after the failed login: {_count(len(checks), 'call')}"
        )
    if "seconds" in stats:
        stdout.print(f"  run took {stats['seconds']:.3f} s", markup=False)


def runs_command(
    name: Annotated[
        str | None, typer.Argument(help="Only runs of this connector.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help=f"Only runs in this status: {', '.join(STATUSES)}."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="How many runs, newest first.")
    ] = 20,
    run_id: Annotated[
        int | None, typer.Option("--id", help="Show one run in full.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List recent runs, newest first, with status, timing and errors."""
    runs = store().runs
    if run_id is not None:
        record = runs.get(run_id)
        emit(record.to_dict(), lambda: _print_run(record, True), as_json=json_output)
        return
    if status is not None and status not in STATUSES:
        raise UsageError(
            f"--status must be one of {', '.join(STATUSES)}, not {status!r}.",
            hint="See: prizm runs --help",
        )
    records = runs.recent(name, status, limit)
    if not records and name is not None:
        # Runs outlive their connector, so only an empty history asks.
        store().connectors.get(name)
    now = utcnow()

    def render() -> None:
        if not records and (name or status):
            wanted = " ".join(part for part in (name, status) if part)
            stdout.print(f"No {wanted} runs.", markup=False)
            return
        if not records:
            stdout.print("No runs yet. Start one with: prizm run NAME")
            return
        table = Table(box=None, pad_edge=False)
        for column in (
            "ID",
            "CONNECTOR",
            "STATUS",
            "CREATED",
            "STARTED",
            "SECONDS",
            "WORKER",
            "RESULT",
        ):
            table.add_column(column)
        for record in records:
            table.add_row(
                str(record.id),
                record.connector,
                record.status,
                _clock(record.created_at),
                _clock(record.started_at),
                _seconds(record, now),
                record.worker or "",
                _outcome(record, now),
            )
        stdout.print(table)

    emit([record.to_dict() for record in records], render, as_json=json_output)


def _clock(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _age(moment: datetime, now: datetime) -> float:
    return max(0.0, (now - as_utc(moment)).total_seconds())


def _seconds(record: RunRecord, now: datetime) -> str:
    """Return the run's duration, or the time it has been running so far."""
    if record.seconds is not None:
        return f"{record.seconds:.2f}"
    if record.status == "running" and record.started_at is not None:
        return f"{_age(record.started_at, now):.0f}+"
    return ""


def _progress(record: RunRecord, now: datetime) -> str:
    """Describe a queued or running run: waiting time, or heartbeat and claim."""
    if record.status == "queued":
        waiting = f"waiting {_age(record.created_at, now):.0f} s"
        if record.claims:
            waiting += f", queued again after {record.claims} claim(s)"
        return waiting
    if record.heartbeat_at is None:
        return "running in a local process"
    return (
        f"claim {record.claims} by {record.worker}, "
        f"heartbeat {_age(record.heartbeat_at, now):.0f} s ago"
    )


def _outcome(record: RunRecord, now: datetime) -> str:
    if record.status in ("queued", "running"):
        return _progress(record, now)
    if record.status == "succeeded":
        return str((record.result or {}).get("summary", ""))
    return f"error[{record.error_code}]" if record.error_code else ""

"""``prizm connector``: connector types, and adding, showing and removing connectors."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from prizm.cli.context import connector_service, schedule_service
from prizm.cli.integration import JsonOption
from prizm.cli.output import emit, stdout
from prizm.connector_service import ConnectorView, parse_field_assignments
from prizm.errors import PrizmError, UsageError
from prizm.schedules import DEFAULT_TIMEZONE, schedule_to_dict
from prizm.store.schedules import ScheduleRecord

__all__ = ["app"]

app = typer.Typer(
    help="Manage connectors and their credential fields.", no_args_is_help=True
)

FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        help="Field as KEY=VALUE. Secret fields take a vault:// reference. Repeatable.",
    ),
]


@app.command("types")
def types(json_output: JsonOption = False) -> None:
    """List the connector types and their fields."""
    kinds = connector_service().types()
    data = [
        {
            "type": kind.type_name,
            "display_name": kind.display_name,
            "fields": [spec.to_dict() for spec in kind.fields],
        }
        for kind in kinds
    ]

    def render() -> None:
        for kind in kinds:
            stdout.print(f"{kind.type_name} ({kind.display_name})", markup=False)
            for spec in kind.fields:
                notes = []
                if spec.secret:
                    notes.append("secret: reference only")
                if not spec.required or spec.default is not None:
                    notes.append(
                        f"optional, default {spec.default}"
                        if spec.default
                        else "optional"
                    )
                suffix = f"  [{'; '.join(notes)}]" if notes else ""
                stdout.print(f"  {spec.name}{suffix}", markup=False)

    emit(data, render, as_json=json_output)


@app.command("add")
def add(
    type_name: Annotated[str, typer.Argument(metavar="TYPE", help="Connector type.")],
    name: Annotated[str, typer.Argument(help="Connector name.")],
    field: FieldOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a connector. References are checked: grammar and integration."""
    service = connector_service()
    fields = parse_field_assignments(field or [])
    record = service.add(type_name, name, fields)
    view = service.view(record)
    emit(
        view.to_dict(),
        lambda: stdout.print(
            f"Added {view.kind.display_name} connector '{name}'. "
            f"Run it with: prizm run {name}",
            markup=False,
        ),
        as_json=json_output,
    )


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="Connector name.")],
    field: FieldOption = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Field to clear. Repeatable.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change some fields of a connector; the others are kept."""
    service = connector_service()
    record = service.update(name, parse_field_assignments(field or []), unset or [])
    emit(
        service.view(record).to_dict(),
        lambda: stdout.print(f"Updated connector '{name}'.", markup=False),
        as_json=json_output,
    )


@app.command("list")
def list_connectors(json_output: JsonOption = False) -> None:
    """List the connectors."""
    service = connector_service()
    records = service.all()
    schedules = schedule_service().by_connector()
    data = [
        {
            "name": r.name,
            "type": r.type,
            "fields": r.fields,
            "schedule": schedule_to_dict(schedules.get(r.name)),
        }
        for r in records
    ]

    def render() -> None:
        if not records:
            stdout.print(
                "No connectors. Add one with: prizm connector add TYPE NAME --field ..."
            )
            return
        table = Table(box=None, pad_edge=False)
        for column in ("NAME", "TYPE", "REFERENCES", "SCHEDULE", "NEXT RUN"):
            table.add_column(column)
        for record in records:
            references = sum(
                1 for v in record.fields.values() if v.startswith("vault://")
            )
            schedule = schedules.get(record.name)
            table.add_row(
                record.name,
                record.type,
                str(references),
                "" if schedule is None else _cron_text(schedule),
                "" if schedule is None else _next_run_text(schedule),
            )
        stdout.print(table)

    emit(data, render, as_json=json_output)


def _cron_text(schedule: ScheduleRecord) -> str:
    return f"{schedule.cron} ({schedule.timezone})"


def _next_run_text(schedule: ScheduleRecord) -> str:
    local = schedule.next_run_at.astimezone(ZoneInfo(schedule.timezone))
    text = f"{local:%Y-%m-%d %H:%M %Z}"
    if schedule.timezone != "UTC":
        text += f" ({schedule.next_run_at:%H:%M} UTC)"
    return text


def _print_view(view: ConnectorView, schedule: ScheduleRecord | None) -> None:
    record = view.record
    stdout.print(f"{record.name} ({view.kind.display_name})", markup=False)
    secret = {spec.name for spec in view.kind.fields if spec.secret}
    for spec in view.kind.fields:
        if spec.name in record.fields:
            marker = " (secret)" if spec.name in secret else ""
            stdout.print(
                f"  {spec.name}{marker}: {record.fields[spec.name]}", markup=False
            )
    if schedule is not None:
        stdout.print(
            f"  schedule: {_cron_text(schedule)}, next run {_next_run_text(schedule)}",
            markup=False,
        )
    if view.last_used:
        stdout.print("  versions used by the last run:", markup=False)
        for use in view.last_used:
            version = use.version_id or use.outcome
            stdout.print(
                f"    {use.field}: {use.secret_id or use.reference} @ {version}",
                markup=False,
            )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Connector name.")],
    json_output: JsonOption = False,
) -> None:
    """Show a connector: fields as stored (references, never values)."""
    service = connector_service()
    view = service.view(service.get(name))
    schedule = schedule_service().get(name)
    data = {**view.to_dict(), "schedule": schedule_to_dict(schedule)}
    emit(data, lambda: _print_view(view, schedule), as_json=json_output)


@app.command("schedule")
def schedule(
    name: Annotated[str, typer.Argument(help="Connector name.")],
    cron: Annotated[
        str | None,
        typer.Argument(
            help='Cron expression of five fields, such as "0 * * * *" for every '
            "hour, or @hourly, @daily, @weekly, @monthly, @yearly."
        ),
    ] = None,
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone",
            "--tz",
            help="IANA time zone the expression is read in, such as Europe/Paris.",
        ),
    ] = DEFAULT_TIMEZONE,
    none: Annotated[
        bool, typer.Option("--none", help="Remove the connector's schedule.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Run a connector on a cron schedule (prizm scheduler queues the runs)."""
    service = schedule_service()
    if none:
        if cron is not None:
            raise UsageError(
                "Give either a cron expression or --none, not both.",
                hint=f"Remove the schedule with: prizm connector schedule {name} "
                "--none",
            )
        removed = service.clear(name)
        emit(
            {"name": name, "schedule": None, "removed": removed},
            lambda: stdout.print(
                f"Removed the schedule of connector '{name}'."
                if removed
                else f"Connector '{name}' had no schedule.",
                markup=False,
            ),
            as_json=json_output,
        )
        return
    if cron is None:
        raise UsageError(
            "A cron expression or --none is required.",
            hint=f'Run it every hour with: prizm connector schedule {name} "0 * * * *"',
        )
    record = service.set(name, cron, timezone)
    emit(
        {"name": name, "schedule": schedule_to_dict(record)},
        lambda: stdout.print(
            f"Connector '{name}' runs on {_cron_text(record)}; next run "
            f"{_next_run_text(record)}. Runs are queued by: prizm scheduler",
            markup=False,
        ),
        as_json=json_output,
    )


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="Connector name.")],
    json_output: JsonOption = False,
) -> None:
    """Resolve every reference of a connector now and report ARN and version."""
    outcomes = connector_service().check(name)
    data = {
        field: outcome.to_dict()
        if isinstance(outcome, PrizmError)
        else outcome.source.to_dict()
        for field, outcome in outcomes.items()
    }
    failed = any(isinstance(outcome, PrizmError) for outcome in outcomes.values())

    def render() -> None:
        for field, outcome in outcomes.items():
            if isinstance(outcome, PrizmError):
                stdout.print(
                    f"  ✗ {field}: error[{outcome.code}]: {outcome.text}", markup=False
                )
            else:
                source = outcome.source
                stdout.print(
                    f"  ✓ {field}: {source.secret_id} version {source.version_id}",
                    markup=False,
                )

    emit(data, render, as_json=json_output)
    if failed:
        raise typer.Exit(1)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Connector name.")],
    json_output: JsonOption = False,
) -> None:
    """Remove a connector. Its runs stay in the history."""
    connector_service().remove(name)
    emit(
        {"removed": name},
        lambda: stdout.print(f"Removed connector '{name}'.", markup=False),
        as_json=json_output,
    )

"""``prizm integration``: add, update, test, list, show and remove integrations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from prizm.cli.context import integration_service
from prizm.cli.output import emit, stderr, stdout
from prizm.errors import UsageError
from prizm.integrations import IntegrationView
from prizm.policy import suggested_pattern, unrestricted_warning
from prizm.providers.base import TestReport
from prizm.store.integrations import IntegrationRecord

__all__ = [
    "AllowedSecretsOption",
    "JsonOption",
    "add_app",
    "app",
    "update_app",
    "warn_if_unrestricted",
]

app = typer.Typer(help="Manage vault integrations.", no_args_is_help=True)
add_app = typer.Typer(help="Add a vault integration.", no_args_is_help=True)
update_app = typer.Typer(
    help="Change an integration's settings; credentials not given are kept.",
    no_args_is_help=True,
)
app.add_typer(add_app, name="add")
app.add_typer(update_app, name="update")

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON.")
]

AllowedSecretsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-secrets",
        help="Secret name pattern references may use, such as 'prizm/*' (a glob), "
        "'secret/prizm/' (a prefix) or an exact name. Repeatable. Without it every "
        "secret the integration's identity can read may be referenced.",
    ),
]


def warn_if_unrestricted(record: IntegrationRecord) -> None:
    """Warn on standard error when an integration allows every secret."""
    if record.allowed_secrets:
        return
    pattern = suggested_pattern(record.type)
    stderr.print(
        f"warning: {unrestricted_warning(record.name, record.type)} Restrict it with: "
        f"prizm integration restrict {record.name} --allowed-secrets '{pattern}'",
        markup=False,
    )


@app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="Integration to test.")],
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            help="Secret to read and check, as NAME, NAME#KEY or a vault:// reference. "
            "Repeatable.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Test Connection: check credentials, reachability and each secret."""
    report = integration_service().test(name, secret or [])
    emit(report.to_dict(), lambda: _print_report(report), as_json=json_output)
    if not report.ok:
        raise typer.Exit(1)


STATUS_MARKS = {
    "ok": ("✓", "green"),
    "warning": ("!", "yellow"),
    "failed": ("✗", "red"),
    "skipped": ("-", "dim"),
}


def _print_report(report: TestReport) -> None:
    # Details quote secret names and vault messages, so they are Text, never markup.
    stdout.print(
        f"Test Connection for integration '{report.integration}' ({report.location})"
    )
    for step in report.steps:
        mark, style = STATUS_MARKS.get(step.status, (step.status, ""))
        stdout.print(Text.assemble("  ", (mark, style), f" {step.name}: {step.detail}"))
        if step.fix and step.status in ("failed", "warning"):
            stdout.print(f"      fix: {step.fix}")
    verdict = ("passed", "green") if report.ok else ("failed", "red")
    stdout.print(Text.assemble("Result: ", verdict, f" ({report.summary()})"))


@app.command("list")
def list_integrations(json_output: JsonOption = False) -> None:
    """List the vault integrations."""
    views = integration_service().list()
    emit(
        [view.to_dict() for view in views],
        lambda: _print_list(views),
        as_json=json_output,
    )


def _last_test(view: IntegrationView) -> str:
    record = view.record
    if record.last_test_at is None:
        return "never"
    outcome = "passed" if record.last_test_ok else "failed"
    return f"{outcome} {record.last_test_at:%Y-%m-%d %H:%M}"


def _print_list(views: list[IntegrationView]) -> None:
    if not views:
        stdout.print(
            "No integrations. Add one with: prizm integration add aws --region REGION"
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "TYPE", "LOCATION", "AUTH", "CONNECTORS", "LAST TEST"):
        table.add_column(column)
    for view in views:
        table.add_row(
            view.record.name,
            view.record.type,
            view.summary.get("location", ""),
            view.summary.get("auth", ""),
            str(len(view.connectors)),
            _last_test(view),
        )
    stdout.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Integration to show.")],
    json_output: JsonOption = False,
) -> None:
    """Show an integration's settings; credentials are shown only as "(set)"."""
    service = integration_service()
    view = service.view(service.get(name))
    data = view.to_dict()

    def render() -> None:
        stdout.print(f"{data['name']} ({data['type_display_name']})", markup=False)
        for key, value in data["settings"].items():
            stdout.print(f"  {key}: {value}", markup=False)
        stdout.print(
            f"  connectors: {', '.join(data['connectors']) or '(none)'}", markup=False
        )
        allowed = ", ".join(data["allowed_secrets"]) or "(all secrets)"
        stdout.print(f"  allowed secrets: {allowed}", markup=False)
        stdout.print(f"  last test: {_last_test(view)}", markup=False)

    emit(data, render, as_json=json_output)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Integration to remove.")],
    json_output: JsonOption = False,
) -> None:
    """Remove an integration. Rejected while connectors reference it."""
    integration_service().remove(name)
    emit(
        {"removed": name},
        lambda: stdout.print(f"Removed integration '{name}'.", markup=False),
        as_json=json_output,
    )


@app.command("restrict")
def restrict(
    name: Annotated[str, typer.Argument(help="Integration to restrict.")],
    allowed_secrets: AllowedSecretsOption = None,
    allow_all: Annotated[
        bool,
        typer.Option("--allow-all", help="Remove every pattern: allow all secrets."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Set which secrets references through an integration may name (an admin task).

    The list replaces the previous one. References outside it are rejected when a
    connector is saved and again when it runs.
    """
    if bool(allowed_secrets) == allow_all:
        raise UsageError(
            "Give either --allowed-secrets PATTERN (repeatable) or --allow-all.",
            hint=f"For example: prizm integration restrict {name} "
            "--allowed-secrets 'prizm/*'",
        )
    service = integration_service()
    record = service.restrict(name, [] if allow_all else list(allowed_secrets or []))
    view = service.view(record)

    outside = service.references_outside(name)

    def render() -> None:
        if record.allowed_secrets:
            patterns = ", ".join(record.allowed_secrets)
            stdout.print(f"Integration '{name}' may read: {patterns}", markup=False)
        else:
            warn_if_unrestricted(record)
        for connector, fields in outside.items():
            stderr.print(
                f"warning: connector '{connector}' references secrets outside the "
                f"list in {', '.join(fields)}; its runs will be refused until those "
                "references or the list change.",
                markup=False,
            )

    emit({**view.to_dict(), "refused_references": outside}, render, as_json=json_output)

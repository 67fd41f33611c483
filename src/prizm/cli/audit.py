"""``prizm audit``: export the audit log, as JSON lines for a SIEM."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from prizm.audit import parse_since
from prizm.cli.context import store
from prizm.cli.output import json_mode, stdout

__all__ = ["audit_command"]


def audit_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only events from this time (ISO 8601) or age (7d)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many events.")
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per line (JSON lines)."),
    ] = False,
) -> None:
    """Print the audit log, oldest first: who did what, and which versions runs read."""
    events = store().audit.events(parse_since(since) if since else None, limit)
    if json_mode(json_output):
        for event in events:
            sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    if not events:
        stdout.print("No audit events.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "DETAILS"):
        table.add_column(column)
    for event in events:
        details = ", ".join(
            f"{key}={value}"
            for key, value in event.details.items()
            if value not in (None, [], "")
        )
        table.add_row(
            f"{event.at:%Y-%m-%d %H:%M:%S}",
            event.actor,
            event.action,
            f"{event.target_type} {event.target}",
            event.outcome,
            details,
        )
    stdout.print(table)

"""``prizm secret get``: print one resolved value, for scripts (like ``op read``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated

import typer

from prizm import audit
from prizm.cli.context import resolver, store
from prizm.cli.output import json_mode, print_json
from prizm.errors import PrizmError
from prizm.resolver import Resolution

__all__ = ["app"]

app = typer.Typer(help="Read secrets through an integration.", no_args_is_help=True)


def record_reads(
    resolution: Resolution, command: str, references: Mapping[str, str]
) -> None:
    """Audit that a person read values on the command line: references, versions.

    ``resolve`` and ``exec`` record the variable each reference was read into.
    """
    events = []
    for label, outcome in resolution.outcomes.items():
        variable = {} if command == "secret get" else {"variable": label}
        if isinstance(outcome, PrizmError):
            events.append(
                audit.event(
                    "secret.read",
                    "reference",
                    audit.reference_target(references.get(label, ""), outcome),
                    outcome=outcome.code,
                    command=command,
                    **variable,
                )
            )
        else:
            events.append(
                audit.event(
                    "secret.read",
                    "reference",
                    outcome.reference,
                    command=command,
                    **variable,
                    secret_id=outcome.source.secret_id,
                    version_id=outcome.source.version_id,
                )
            )
    audit.record_many(store(), events, strict=True)


@app.command("get")
def get(
    reference: Annotated[
        str,
        typer.Argument(help="Reference such as vault://aws/prizm/snowflake#password."),
    ],
    no_newline: Annotated[
        bool,
        typer.Option("--no-newline", "-n", help="Print no newline after the value."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the value and its source as JSON.")
    ] = False,
) -> None:
    """Print the value a reference resolves to, for scripts (audited).

    Besides resolve and exec, this is the only command that prints values.
    """
    references = {"value": reference}
    resolution = resolver().resolve(references)
    outcome = resolution.values.get("value")
    record_reads(resolution, "secret get", references)
    if outcome is None:
        raise resolution.errors["value"]
    if json_mode(json_output):
        print_json(
            {
                "reference": reference,
                "value": outcome.value.reveal(),
                "source": outcome.source.to_dict(),
            }
        )
        return
    sys.stdout.write(outcome.value.reveal())
    if not no_newline:
        sys.stdout.write("\n")
    sys.stdout.flush()

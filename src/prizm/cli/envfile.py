"""``prizm resolve`` and ``prizm exec``: references in env files, for any tool.

Both resolve every reference of the file with one batched resolution, as job runs
do. A failed reference fails the whole command before anything is printed or run,
and the error names every failed reference.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Annotated

import typer

from prizm.cli.context import resolver
from prizm.cli.output import json_mode, print_json
from prizm.cli.secret import record_reads
from prizm.envfile import EnvEntry, read_env_file
from prizm.errors import (
    CommandNotExecutable,
    CommandNotFound,
    PrizmError,
    UsageError,
    ValueProblem,
)

__all__ = ["exec_command", "resolve_command"]

EnvFileOption = Annotated[
    str,
    typer.Option(
        "--env-file",
        "-e",
        help="File of NAME=vault://... lines ('-' for standard input).",
    ),
]


def _resolved(entries: list[EnvEntry], command: str) -> dict[str, str]:
    """Resolve every reference of ``entries``; literals pass through unchanged."""
    references = {entry.name: entry.value for entry in entries if entry.is_reference}
    resolution = resolver().resolve(references)
    record_reads(resolution, command, references)
    errors = resolution.errors
    if errors:
        raise _combined(errors)
    values: dict[str, str] = {}
    for entry in entries:
        outcome = resolution.values.get(entry.name)
        values[entry.name] = outcome.value.reveal() if outcome else entry.value
    return values


def _combined(errors: dict[str, PrizmError]) -> PrizmError:
    name, first = next(iter(errors.items()))
    if len(errors) == 1:
        return first.reworded(f"{name}: {first.message}")
    lines = "; ".join(f"{other} ({error.code})" for other, error in errors.items())
    return first.reworded(
        f"{len(errors)} references failed to resolve: {lines}. First, {name}: "
        f"{first.message}"
    )


def _reject_nul(values: dict[str, str], target: str, hint: str) -> None:
    """Raise when a value contains a NUL character, which ``target`` cannot carry."""
    names = [name for name, value in values.items() if "\x00" in value]
    if names:
        raise ValueProblem(
            f"The value of {', '.join(names)} contains a NUL character, which "
            f"{target} cannot hold.",
            hint=hint,
        )


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def resolve_command(
    env_file: EnvFileOption,
    shell: Annotated[
        bool,
        typer.Option("--shell", help="Print export NAME='value' lines for a shell."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of NAME: value.")
    ] = False,
) -> None:
    """Print the resolved NAME=value lines of an env file (values included)."""
    if shell and json_output:
        raise UsageError(
            "--shell and --json are different output formats; give one of them.",
            hint="Use --shell for export lines, --json for one JSON object.",
        )
    values = _resolved(read_env_file(env_file), "resolve")
    if json_mode(json_output):
        print_json(values)
        return
    _reject_nul(values, "a NAME=value line or a shell variable", "Use --json instead.")
    if not shell:
        multiline = [
            name for name, value in values.items() if "\n" in value or "\r" in value
        ]
        if multiline:
            raise UsageError(
                f"The value of {', '.join(multiline)} spans several lines, which "
                "NAME=value lines cannot carry.",
                hint="Use --json or --shell instead.",
            )
    for name, value in values.items():
        line = f"export {name}={_shell_quote(value)}" if shell else f"{name}={value}"
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def exec_command(
    env_file: EnvFileOption,
    command: Annotated[
        list[str] | None,
        typer.Argument(help="The command and its arguments, after --."),
    ] = None,
) -> None:
    """Run a command with the env file's resolved values added to its environment.

    The command's exit status is passed through; SIGINT and SIGTERM are forwarded.
    """
    if not command:
        raise UsageError(
            "No command given.",
            hint="Write it after --, for example: prizm exec --env-file app.env -- "
            "dbt run",
        )
    values = _resolved(read_env_file(env_file), f"exec {command[0]}")
    _reject_nul(
        values,
        "an environment variable",
        "Remove the NUL character from the value in the vault.",
    )
    environment = {**os.environ, **values}
    try:
        child = subprocess.Popen(command, env=environment)
    except FileNotFoundError:
        raise CommandNotFound(
            f"The command {command[0]!r} was not found.",
            hint="Check the command name and PATH.",
        ) from None
    except PermissionError:
        raise CommandNotExecutable(
            f"The command {command[0]!r} cannot be executed (permission denied).",
            hint="Check that the file is executable.",
        ) from None
    del values, environment

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {
        number: signal.signal(number, forward)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        status = child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if status < 0:
        status = 128 - status
    raise typer.Exit(status)

"""Reading credentials from standard input, so they stay out of shell history."""

from __future__ import annotations

import getpass
import sys

from prizm.errors import UsageError

__all__ = ["read_secret_lines"]


def read_secret_lines(labels: list[str]) -> dict[str, str]:
    """Read one line per label from standard input, or prompt without echo on a TTY.

    Only the line ending is removed; other whitespace is part of the value.
    """
    values: dict[str, str] = {}
    if not labels:
        return values
    interactive = sys.stdin.isatty()
    for label in labels:
        if interactive:
            line = getpass.getpass(f"{label}: ")
        else:
            line = sys.stdin.readline()
            if not line:
                raise UsageError(
                    f"Standard input ended before the {label} was read.",
                    hint="Send one value per line on standard input, in the order of "
                    "the --*-stdin options.",
                )
            line = line.removesuffix("\n").removesuffix("\r")
        if line == "":
            raise UsageError(
                f"The {label} read from standard input is empty.",
                hint="Send the value on its own line.",
            )
        values[label] = line
    return values

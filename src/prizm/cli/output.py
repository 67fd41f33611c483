"""Printing results and errors: Rich for people, JSON with ``--json``."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from prizm import redaction
from prizm.errors import PrizmError

__all__ = ["State", "emit", "print_error", "state"]


@dataclass
class State:
    """Options that apply to every command of one invocation."""

    json: bool = False


state = State()

# Emoji codes are off: an ARN contains ":secret:", which Rich would draw as an emoji.
# Output quotes names, references and vault messages that may contain "[...]", so
# Rich markup is off everywhere: styled text is built with rich.text.Text.
SIGPIPE_STATUS = 128 + signal.SIGPIPE
"""The exit status when the reader of the output went away, as a shell reports it."""


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich exits with status 1 here, which scripts read as a failed command;
        # `prizm runs | head` did not fail.
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(SIGPIPE_STATUS)


stdout = _Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
stderr = _Console(
    stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False
)


def json_mode(local: bool) -> bool:
    return local or state.json


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def emit(data: Any, render: Callable[[], None], *, as_json: bool) -> None:
    """Print ``data`` as JSON, or call ``render`` to print it for people."""
    if json_mode(as_json):
        print_json(data)
    else:
        render()


def print_error(error: PrizmError, *, as_json: bool) -> None:
    """Print an error as ``error[<code>]: <message>`` on stderr, or as JSON."""
    if json_mode(as_json):
        data = error.to_dict()
        data["message"] = redaction.scrub(data["message"])
        print_json({"error": data})
        return
    line = f"error[{error.code}]: {redaction.scrub(error.text)}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

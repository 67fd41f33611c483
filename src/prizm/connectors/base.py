"""What a connector type declares: its fields, which are secret, and its job.

A connector receives its field values in memory only, as ``FieldValues``: literal
fields as plain text, referenced fields as ``SecretValue``. It reveals a value only
in the call that hands it to its driver, and maps its driver's errors to
``AuthenticationFailed``, ``ConnectionFailed`` or ``JobFailed`` with messages passed
through ``prizm.redaction.scrub`` (drivers echo connection strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from prizm import redaction
from prizm.errors import InvalidField
from prizm.secrets import SecretValue

__all__ = [
    "ConnectorType",
    "FieldKind",
    "FieldSpec",
    "FieldValues",
    "JobResult",
    "ProgressCallback",
    "format_count",
    "scrubbed",
]

FieldKind = Literal["text", "integer", "url", "choice", "pem", "email"]

ProgressCallback = Callable[[str, float | None], None]


def format_count(number: int, noun: str) -> str:
    """Return ``number`` with ``noun`` in the singular or plural, as "1 table"."""
    return f"{number} {noun if number == 1 else noun + 's'}"


"""Reports progress: a short description and, when known, the fraction done (0-1)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a connector type."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str | None = None
    kind: FieldKind = "text"
    choices: tuple[str, ...] = ()
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "secret": self.secret,
            "required": self.required,
            "default": self.default,
            "kind": self.kind,
            "choices": list(self.choices),
            "help": self.help,
        }


class FieldValues:
    """A connector's field values for one run: literals as text, secrets masked."""

    def __init__(self, values: Mapping[str, str | SecretValue]) -> None:
        self._values = dict(values)

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return a field's value as text, revealing it if it came from a vault."""
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, SecretValue):
            return value.reveal()
        return value

    def require(self, name: str) -> str:
        """Return a field's value as text; raise ``InvalidField`` if it is missing."""
        value = self.text(name)
        if value is None or value == "":
            raise InvalidField(
                f"The field '{name}' has no value.",
                hint="Set it on the connector with: prizm connector update "
                f"CONNECTOR --field {name}=VALUE.",
            )
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._values and self._values[str(name)] not in (None, "")

    def __repr__(self) -> str:
        shown = {
            name: ("********" if isinstance(value, SecretValue) else value)
            for name, value in self._values.items()
        }
        return f"FieldValues({shown!r})"


@dataclass
class JobResult:
    """What a job produced: a summary line and the structured result."""

    summary: str
    data: dict[str, Any] = field(default_factory=dict)


class ConnectorType(Protocol):
    """A kind of connector. Implement one module per system."""

    type_name: str
    display_name: str
    fields: tuple[FieldSpec, ...]

    def validate(self, fields: Mapping[str, str]) -> None:
        """Check literal field values (ports, URLs, choices). References are skipped."""
        ...

    def run(self, values: FieldValues, progress: ProgressCallback) -> JobResult:
        """Connect with the values and do the job. Raises connector errors only."""
        ...


def scrubbed(exc: BaseException) -> str:
    """Return a driver exception's message with every known secret value masked."""
    text = str(exc).strip() or exc.__class__.__name__
    # Mask first: collapsing whitespace could change a value so it no longer matches.
    return " ".join(redaction.scrub(text).split())


PORT = re.compile(r"[0-9]{1,5}")


def check_port(name: str, value: str) -> None:
    if not PORT.fullmatch(value) or not 0 < int(value) < 65536:
        raise InvalidField(
            f"The field '{name}' must be a TCP port from 1 to 65535, not {value!r}.",
            hint=f"Set it with --field {name}=5432.",
        )


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidField(
            f"The field '{name}' must be one of {', '.join(choices)}, not {value!r}.",
            hint=f"Set it with --field {name}={choices[0]}.",
        )

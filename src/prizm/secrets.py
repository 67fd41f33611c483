"""Resolved secret values and where they came from.

A value lives in ``SecretValue``, whose ``str``, ``repr`` and ``format`` are masked, so
a value that ends up in an f-string, a log call or a traceback prints as ``********``.
Only ``reveal()`` returns the text. Pickling is rejected so that a value never travels
through a task queue or a cache file by accident.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, final

from prizm import redaction

__all__ = ["MASK", "FetchedSecret", "ResolvedValue", "SecretSource", "SecretValue"]

MASK = "********"


@final
class SecretValue:
    """A secret string that prints masked and is revealed only by ``reveal()``.

    Creating one registers the text with the process-wide redaction registry, so log
    records and scrubbed driver errors mask it from then on.
    """

    __slots__ = ("__value",)

    def __init__(self, value: str, *, register: bool = True) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretValue holds text; decode bytes before wrapping them")
        self.__value = value
        if register:
            redaction.register(value)

    def reveal(self) -> str:
        """Return the secret text. Call it only where the value is handed over."""
        return self.__value

    def __repr__(self) -> str:
        return f"SecretValue('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(
            self.__value.encode("utf-8"), other.__value.encode("utf-8")
        )

    def __hash__(self) -> int:
        return hash((SecretValue, self.__value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretValue cannot be pickled or copied out of the process")

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self


@dataclass(frozen=True, slots=True)
class SecretSource:
    """Where a value came from: the integration, the secret and the exact version.

    ``secret_id`` is the AWS ARN, the Vault path or the Key Vault secret identifier.
    A run record stores this, never the value.
    """

    integration: str
    provider: str
    secret_id: str
    version_id: str | None
    version_stages: tuple[str, ...] = ()
    created: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render the source for JSON output and run records."""
        return {
            "integration": self.integration,
            "provider": self.provider,
            "secret_id": self.secret_id,
            "version_id": self.version_id,
            "version_stages": list(self.version_stages),
        }


@dataclass(frozen=True, slots=True)
class FetchedSecret:
    """One secret version as a provider returned it: the document and its source."""

    document: SecretValue
    source: SecretSource


@dataclass(frozen=True, slots=True)
class ResolvedValue:
    """The value for one reference, with the source of the version it came from."""

    reference: str
    value: SecretValue
    source: SecretSource
    metadata: dict[str, Any] = field(default_factory=dict)

"""Recording audit events, with the acting person or process taken from context.

The command line sets the actor to ``cli:<login name>``, the web console to
``web:<user>``, a worker to ``worker:<host>``. Events never contain values: only
names, references, secret IDs and versions.
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from prizm.errors import InvalidReference, PrizmError, StoreError, UsageError
from prizm.store.store import Store

__all__ = [
    "acting_as",
    "current_actor",
    "parse_since",
    "record",
    "record_many",
    "reference_target",
    "set_actor",
]

log = logging.getLogger(__name__)

_actor: ContextVar[str | None] = ContextVar("prizm_actor", default=None)


def _default_actor() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"


def current_actor() -> str:
    """Return who is acting: the value set by the interface, or the login name."""
    return _actor.get() or _default_actor()


def set_actor(actor: str) -> None:
    """Set the actor for the rest of this context (a CLI command, a request)."""
    _actor.set(actor[:128])


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Set the actor within a ``with`` block."""
    token = _actor.set(actor[:128])
    try:
        yield
    finally:
        _actor.reset(token)


def _event(
    action: str, target_type: str, target: str, outcome: str, details: dict[str, Any]
) -> dict[str, Any]:
    return {
        "actor": current_actor(),
        "action": action,
        "target_type": target_type,
        "target": target[:255],
        "outcome": outcome,
        "details": details,
    }


def record(
    store: Store,
    action: str,
    target_type: str,
    target: str,
    outcome: str = "ok",
    **details: Any,
) -> None:
    """Append one event. A failure to write is logged, never raised to the caller."""
    record_many(store, [_event(action, target_type, target, outcome, details)])


def record_many(
    store: Store, events: list[dict[str, Any]], *, strict: bool = False
) -> None:
    """Append several events in one transaction.

    A failure to write is logged; with ``strict`` it also raises ``StoreError``, so
    a command that shows values to a person shows none it could not audit.
    """
    try:
        store.audit.append(events)
    except SQLAlchemyError as exc:
        log.error(
            "audit events could not be written count=%d error=%s",
            len(events),
            exc.__class__.__name__,
        )
        if strict:
            raise StoreError(
                "The audit log could not be written, so no value is shown.",
                hint="Check that the store's database is reachable and writable.",
            ) from None


def event(
    action: str, target_type: str, target: str, outcome: str = "ok", **details: Any
) -> dict[str, Any]:
    """Return an event for ``record_many``, with the current actor."""
    return _event(action, target_type, target, outcome, details)


DURATION = re.compile(r"(\d+)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def reference_target(text: str, outcome: object) -> str:
    """Return what the audit log records as the target of a reference.

    Text that did not parse as a reference may be a value typed or pasted where a
    reference belongs, so the append-only log keeps only its length.
    """
    if isinstance(outcome, InvalidReference):
        return f"(invalid reference, {len(text)} characters)"
    if isinstance(outcome, PrizmError) and outcome.reference:
        return outcome.reference
    return text


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Parse ``--since``: an ISO 8601 time, or a duration back from now (``24h``)."""
    now = now or datetime.now(UTC)
    match = DURATION.fullmatch(text.strip())
    if match is not None:
        amount, unit = match.groups()
        return now - timedelta(**{UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since must be an ISO 8601 time or a duration such as 24h, "
            f"not {text!r}.",
            hint="For example: --since 2026-12-01T00:00:00Z or --since 7d.",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Connector schedules: a standard five-field cron expression in an IANA time zone.

Slots are computed with croniter in the schedule's time zone, so "0 9 * * *" in
Europe/Paris runs at 09:00 Paris time in winter and in summer. On the day clocks
move forward, a slot inside the skipped hour runs at the first minute after it.
Times are stored and compared in UTC.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from croniter import CroniterError, croniter

from prizm.errors import InvalidSchedule
from prizm.store.models import utcnow
from prizm.store.schedules import ScheduleRecord
from prizm.store.store import Store

__all__ = [
    "CronSchedule",
    "ScheduleService",
    "next_slot",
    "parse_schedule",
    "schedule_to_dict",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "UTC"
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
MAX_EXPRESSION_LENGTH = 120
EXAMPLE_HINT = (
    "Write five fields, minute hour day-of-month month day-of-week, such as "
    '"0 * * * *" for every hour or "30 6 * * 1-5" for 06:30 on weekdays.'
)


@dataclass(frozen=True)
class CronSchedule:
    """A validated cron expression and the time zone its slots are read in."""

    expression: str
    timezone: str

    def next_after(self, moment: datetime) -> datetime:
        """Return the first slot strictly after ``moment``, in UTC."""
        local = moment.astimezone(_zone(self.timezone))
        following: datetime = croniter(self.expression, local).get_next(datetime)
        return following.astimezone(UTC)


@lru_cache(maxsize=1)
def _available_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _check_timezone(name: str) -> str:
    name = name.strip() or DEFAULT_TIMEZONE
    if name not in _available_zones():
        raise InvalidSchedule(
            f"Unknown time zone {name!r}.",
            hint="Use an IANA time zone name such as Europe/Paris, America/New_York "
            "or UTC.",
        )
    try:
        _zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(
            f"The time zone {name!r} could not be loaded.",
            hint="Install the tzdata package, or use another IANA time zone name.",
        ) from None
    return name


def _check_expression(expression: str) -> str:
    normalized = " ".join(expression.split())
    if not normalized:
        raise InvalidSchedule("The cron expression is empty.", hint=EXAMPLE_HINT)
    if len(normalized) > MAX_EXPRESSION_LENGTH:
        raise InvalidSchedule(
            f"The cron expression is longer than {MAX_EXPRESSION_LENGTH} characters.",
            hint=EXAMPLE_HINT,
        )
    if normalized.startswith("@"):
        if normalized.lower() not in MACROS:
            raise InvalidSchedule(
                f"The cron expression {normalized!r} is not supported.",
                hint=f"Use one of {', '.join(sorted(MACROS))}, or five fields.",
            )
        return normalized.lower()
    fields = normalized.split(" ")
    if len(fields) != len(CRON_FIELDS):
        raise InvalidSchedule(
            f"The cron expression {normalized!r} has {len(fields)} fields, "
            f"not {len(CRON_FIELDS)} ({' '.join(CRON_FIELDS)}).",
            hint=EXAMPLE_HINT,
        )
    try:
        croniter(normalized)
    except CroniterError as exc:
        raise InvalidSchedule(
            f"The cron expression {normalized!r} is invalid: {exc}.",
            hint=EXAMPLE_HINT,
        ) from None
    return normalized


def parse_schedule(expression: str, timezone: str = DEFAULT_TIMEZONE) -> CronSchedule:
    """Validate a cron expression and a time zone, or raise ``InvalidSchedule``."""
    schedule = CronSchedule(_check_expression(expression), _check_timezone(timezone))
    try:
        schedule.next_after(utcnow())
    except CroniterError:
        raise InvalidSchedule(
            f"The cron expression {schedule.expression!r} never matches a date.",
            hint="Check the day-of-month and month fields, such as 30 in February.",
        ) from None
    return schedule


def next_slot(record: ScheduleRecord, after: datetime) -> datetime:
    """Return the slot of a stored schedule that follows ``after``, in UTC."""
    return CronSchedule(record.cron, record.timezone).next_after(after)


def schedule_to_dict(record: ScheduleRecord | None) -> dict[str, Any] | None:
    """Render a schedule for JSON: expression, zone, next run in UTC and local."""
    if record is None:
        return None
    local = record.next_run_at.astimezone(_zone(record.timezone))
    return {
        "cron": record.cron,
        "timezone": record.timezone,
        "next_run_at": record.next_run_at.isoformat(),
        "next_run_local": local.isoformat(),
    }


class ScheduleService:
    """Set, clear and read connector schedules, over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def set(
        self, name: str, expression: str, timezone: str = DEFAULT_TIMEZONE
    ) -> ScheduleRecord:
        """Validate and store the schedule of connector ``name``."""
        connector = self.store.connectors.get(name)
        schedule = parse_schedule(expression, timezone)
        record = self.store.schedules.set(
            connector,
            schedule.expression,
            schedule.timezone,
            schedule.next_after(utcnow()),
        )
        log.info(
            "schedule set connector=%s cron=%r timezone=%s next_run_at=%s",
            name,
            record.cron,
            record.timezone,
            record.next_run_at.isoformat(),
        )
        return record

    def clear(self, name: str) -> bool:
        """Remove the schedule of connector ``name``, and return whether it had one."""
        removed = self.store.schedules.clear(self.store.connectors.get(name))
        log.info("schedule removed connector=%s had_schedule=%s", name, removed)
        return removed

    def get(self, name: str) -> ScheduleRecord | None:
        return self.store.schedules.get(self.store.connectors.get(name))

    def by_connector(self) -> dict[str, ScheduleRecord]:
        """Return every schedule, keyed by connector name."""
        return {record.connector: record for record in self.store.schedules.all()}

    def enqueue_due(self, limit: int = 100) -> list[int]:
        """Insert a queued run for every due schedule, and return the new run ids."""
        return self.store.schedules.enqueue_due(next_slot, limit)

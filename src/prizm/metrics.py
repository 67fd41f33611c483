"""Process-wide counters of vault API calls, retries and resolution latency.

Counters are kept in memory per process and read by ``prizm run --stats`` and the
``/metrics`` endpoint in the Prometheus text format.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallRecord", "Metrics", "collect_calls", "fleet_prometheus", "metrics"]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One vault API call, as counted for a single resolution."""

    integration: str
    provider: str
    operation: str
    outcome: str
    seconds: float
    retries: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "provider": self.provider,
            "operation": self.operation,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 6),
            "retries": self.retries,
        }


_collector: ContextVar[list[CallRecord] | None] = ContextVar(
    "prizm_call_collector", default=None
)


@contextmanager
def collect_calls() -> Iterator[list[CallRecord]]:
    """Collect the API calls made in this context (and contexts copied from it).

    The resolver runs its calls on pool threads inside copies of the caller's
    context, so the calls of one resolution are counted apart from any other.
    """
    calls: list[CallRecord] = []
    token = _collector.set(calls)
    try:
        yield calls
    finally:
        _collector.reset(token)


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for index, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1


class Metrics:
    """Thread-safe counters. ``snapshot()`` returns a copy for reports and diffs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str, str, str]] = Counter()
        self._retries: Counter[tuple[str, str, str]] = Counter()
        self._call_seconds: dict[tuple[str, str, str], _Histogram] = {}
        self._resolution = _Histogram()

    def record_call(
        self,
        *,
        integration: str,
        provider: str,
        operation: str,
        outcome: str,
        seconds: float,
        retries: int = 0,
    ) -> None:
        """Count one API call (after the SDK's retries) and its retries."""
        collected = _collector.get()
        if collected is not None:
            collected.append(
                CallRecord(integration, provider, operation, outcome, seconds, retries)
            )
        with self._lock:
            self._calls[(integration, provider, operation, outcome)] += 1
            if retries:
                self._retries[(integration, provider, operation)] += retries
            key = (integration, provider, operation)
            self._call_seconds.setdefault(key, _Histogram()).observe(seconds)

    def record_resolution(self, seconds: float) -> None:
        """Record how long resolving one run's references took."""
        with self._lock:
            self._resolution.observe(seconds)

    def snapshot(self) -> dict[str, object]:
        """Return a copy of every counter, as plain data."""
        with self._lock:
            calls = [
                {
                    "integration": integration,
                    "provider": provider,
                    "operation": operation,
                    "outcome": outcome,
                    "count": count,
                }
                for (integration, provider, operation, outcome), count in sorted(
                    self._calls.items()
                )
            ]
            retries = [
                {
                    "integration": integration,
                    "provider": provider,
                    "operation": operation,
                    "count": count,
                }
                for (integration, provider, operation), count in sorted(
                    self._retries.items()
                )
            ]
            return {
                "calls": calls,
                "retries": retries,
                "resolutions": self._resolution.count,
                "resolution_seconds_total": self._resolution.total,
            }

    def call_count(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def prometheus(self) -> str:
        """Render the counters in the Prometheus text exposition format."""
        lines = [
            "# HELP prizm_vault_api_calls_total Vault API calls by outcome.",
            "# TYPE prizm_vault_api_calls_total counter",
        ]
        with self._lock:
            for (integration, provider, operation, outcome), count in sorted(
                self._calls.items()
            ):
                labels = _labels(
                    integration=integration,
                    provider=provider,
                    operation=operation,
                    outcome=outcome,
                )
                lines.append(f"prizm_vault_api_calls_total{{{labels}}} {count}")
            lines += [
                "# HELP prizm_vault_api_retries_total Retries made by the vault SDKs.",
                "# TYPE prizm_vault_api_retries_total counter",
            ]
            for (integration, provider, operation), count in sorted(
                self._retries.items()
            ):
                labels = _labels(
                    integration=integration, provider=provider, operation=operation
                )
                lines.append(f"prizm_vault_api_retries_total{{{labels}}} {count}")
            lines += [
                "# HELP prizm_vault_api_call_seconds Duration of vault API calls.",
                "# TYPE prizm_vault_api_call_seconds histogram",
            ]
            for (integration, provider, operation), histogram in sorted(
                self._call_seconds.items()
            ):
                labels = _labels(
                    integration=integration, provider=provider, operation=operation
                )
                lines += _histogram_lines(
                    "prizm_vault_api_call_seconds", labels, histogram
                )
            lines += [
                "# HELP prizm_resolution_seconds Time to resolve one run's references.",
                "# TYPE prizm_resolution_seconds histogram",
            ]
            lines += _histogram_lines("prizm_resolution_seconds", "", self._resolution)
        return "\n".join(lines) + "\n"

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._retries.clear()
            self._call_seconds.clear()
            self._resolution = _Histogram()


FleetTotal = tuple[str, str, str, str, int, int]
"""Integration, provider, operation, outcome, calls and retries of stored runs."""

RUN_STATUSES = ("queued", "running", "succeeded", "failed")


def fleet_prometheus(totals: Iterable[FleetTotal], statuses: Mapping[str, int]) -> str:
    """Render the calls of every process's job runs and the runs by status.

    The numbers come from the store that all processes share, so one scrape of
    ``prizm serve`` covers the runs that Celery workers executed as well.
    """
    lines = [
        "# HELP prizm_runs Job runs in the store by status.",
        "# TYPE prizm_runs gauge",
    ]
    for status in sorted({*RUN_STATUSES, *statuses}):
        lines.append(
            f"prizm_runs{{{_labels(status=status)}}} {statuses.get(status, 0)}"
        )
    lines += [
        "# HELP prizm_run_vault_api_calls_total Vault API calls of finished job "
        "runs, in every process.",
        "# TYPE prizm_run_vault_api_calls_total counter",
    ]
    rows = [
        (
            _labels(
                integration=integration,
                provider=provider,
                operation=operation,
                outcome=outcome,
            ),
            calls,
            retries,
        )
        for integration, provider, operation, outcome, calls, retries in sorted(totals)
    ]
    for labels, calls, _ in rows:
        lines.append(f"prizm_run_vault_api_calls_total{{{labels}}} {calls}")
    lines += [
        "# HELP prizm_run_vault_api_retries_total SDK retries of finished job runs, "
        "in every process.",
        "# TYPE prizm_run_vault_api_retries_total counter",
    ]
    for labels, _, retries in rows:
        lines.append(f"prizm_run_vault_api_retries_total{{{labels}}} {retries}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())


def _histogram_lines(metric: str, labels: str, histogram: _Histogram) -> list[str]:
    prefix = f"{labels}," if labels else ""
    lines = [
        f'{metric}_bucket{{{prefix}le="{bound}"}} {count}'
        for bound, count in zip(LATENCY_BUCKETS, histogram.buckets, strict=True)
    ]
    lines.append(f'{metric}_bucket{{{prefix}le="+Inf"}} {histogram.count}')
    suffix = f"{{{labels}}}" if labels else ""
    lines.append(f"{metric}_sum{suffix} {histogram.total}")
    lines.append(f"{metric}_count{suffix} {histogram.count}")
    return lines


metrics = Metrics()
"""The counters of this process."""

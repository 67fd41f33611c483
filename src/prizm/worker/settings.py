"""Settings shared by workers, schedulers and the processes that queue runs.

Every process that talks to the fleet reads them from the environment, so a
worker and a scheduler agree on the lease as long as they are started with the
same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from prizm.errors import BrokerUnavailable, UsageError
from prizm.netpolicy import forbidden_host_reason

__all__ = ["DEFAULT_BROKER_URL", "WorkerSettings"]

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def _number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise UsageError(
            f"{name} must be a number of at least {minimum:g}, not {raw!r}.",
            hint=f"Unset it to use the default of {default:g}.",
        )
    return value


@dataclass(frozen=True)
class WorkerSettings:
    """Broker, lease and retry settings.

    ``lease_seconds`` is how long a claim stays valid without a heartbeat; a
    worker renews it every third of that time. ``max_claims`` is how many times
    a run may be claimed: a run whose worker was lost is queued again until it
    has been claimed that often, then fails with ``worker_lost``.
    ``visibility_timeout`` is how long Redis keeps a delivered message that was
    never acknowledged before it delivers the message again.
    """

    broker_url: str = DEFAULT_BROKER_URL
    lease_seconds: float = 60.0
    max_claims: int = 2
    visibility_timeout: float = 3600.0
    undispatched_grace_seconds: float = 30.0

    @classmethod
    def from_environment(cls) -> WorkerSettings:
        """Read ``PRIZM_BROKER_URL``, ``PRIZM_RUN_LEASE_SECONDS`` and the others."""
        broker_url = os.environ.get("PRIZM_BROKER_URL") or DEFAULT_BROKER_URL
        reason = forbidden_host_reason(urlsplit(broker_url).hostname or "")
        if reason is not None:
            raise BrokerUnavailable(
                f"PRIZM_BROKER_URL may not point at {urlsplit(broker_url).hostname}: "
                f"{reason}.",
                hint="Set PRIZM_BROKER_URL to your Redis or RabbitMQ broker.",
            )
        return cls(
            broker_url=broker_url,
            lease_seconds=_number("PRIZM_RUN_LEASE_SECONDS", 60.0, 1.0),
            max_claims=int(_number("PRIZM_RUN_MAX_CLAIMS", 2, 1)),
            visibility_timeout=_number("PRIZM_BROKER_VISIBILITY_TIMEOUT", 3600.0, 1.0),
            undispatched_grace_seconds=_number(
                "PRIZM_UNDISPATCHED_GRACE_SECONDS", 30.0, 0.0
            ),
        )

    @property
    def heartbeat_seconds(self) -> float:
        return self.lease_seconds / 3

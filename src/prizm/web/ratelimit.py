"""Sign-in rate limiting: failed attempts per user name and per client address.

Counts live in this process's memory, so they reset when the server restarts and
are not shared between several server processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prizm.errors import TooManyAttempts

__all__ = ["LoginLimiter", "LoginLimits"]

# Past this many tracked names and addresses, windows with no recent failure are
# dropped, so guessed user names cannot grow the map without bound.
PRUNE_ABOVE = 10_000


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins are allowed within ``window_seconds``."""

    per_user: int = 5
    per_address: int = 20
    window_seconds: float = 900.0


class LoginLimiter:
    """A sliding window of failed sign-ins per user name and per client address."""

    def __init__(
        self,
        limits: LoginLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def check(self, user: str, address: str) -> None:
        """Raise ``TooManyAttempts`` while the user or the address is locked."""
        with self._lock:
            now = self._clock()
            for key, limit, subject in (
                (f"user:{user}", self.limits.per_user, f"the user '{user}'"),
                (f"address:{address}", self.limits.per_address, "your address"),
            ):
                failures = self._window(key, now)
                if len(failures) >= limit:
                    wait = failures[0] + self.limits.window_seconds - now
                    retry_after = max(1, math.ceil(wait))
                    raise TooManyAttempts(
                        f"Too many failed sign-ins for {subject}.",
                        hint=f"Try again in {retry_after} seconds.",
                        retry_after=retry_after,
                    )

    def failed(self, user: str, address: str) -> None:
        """Count one failed sign-in for the user name and the address."""
        with self._lock:
            now = self._clock()
            for key in (f"user:{user}", f"address:{address}"):
                self._window(key, now).append(now)
            if len(self._failures) > PRUNE_ABOVE:
                self._prune(now)

    def succeeded(self, user: str) -> None:
        """Forget the user's failures; the address keeps its count."""
        with self._lock:
            self._failures.pop(f"user:{user}", None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            if not self._window(key, now):
                del self._failures[key]

    def _window(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.limits.window_seconds:
            failures.popleft()
        return failures

"""Which secrets engine serves a path, and which KV version it runs.

A reference names ``<mount>/<path>`` without saying where the mount ends, so the
provider queries Vault. ``GET sys/internal/ui/mounts`` lists the secrets engines the
token can see, with their type and options, and the longest mount path that prefixes
the reference's path wins. The listing is cached for ``CACHE_SECONDS`` per provider,
so per integration and process. A path outside every listed mount is looked up on its
own with ``GET sys/internal/ui/mounts/<path>``, which Vault serves for any token
with a capability below that mount. Both endpoints need only a valid token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hvac.exceptions

__all__ = ["CACHE_SECONDS", "Mount", "MountTable"]

CACHE_SECONDS = 300.0
"""How long a mount listing is trusted before it is fetched again."""


@dataclass(frozen=True, slots=True)
class Mount:
    """A secrets engine: its path with a trailing slash, type and KV version."""

    path: str
    type: str
    kv_version: int | None

    @classmethod
    def from_api(cls, path: str, data: dict[str, Any]) -> Mount:
        engine = str(data.get("type") or "unknown")
        options = data.get("options") or {}
        version: int | None = None
        if engine in ("kv", "generic"):
            version = 2 if str(options.get("version") or "1") == "2" else 1
        return cls(path=path.rstrip("/") + "/", type=engine, kv_version=version)

    @property
    def is_kv(self) -> bool:
        return self.kv_version is not None

    def describe(self) -> str:
        if self.kv_version is not None:
            return f"{self.path} (KV v{self.kv_version})"
        return f"{self.path} ({self.type})"


class MountTable:
    """The mounts of one namespace that one token can see, cached per process.

    ``list_mounts`` and ``lookup_mount`` perform the two API calls. The provider
    passes them in, so that the calls go through its token and error handling.
    """

    def __init__(
        self,
        list_mounts: Callable[[], dict[str, Any]],
        lookup_mount: Callable[[str], dict[str, Any]],
    ) -> None:
        self._list_mounts = list_mounts
        self._lookup_mount = lookup_mount
        self._lock = threading.Lock()
        self._mounts: dict[str, Mount] = {}
        self._listed_at: float | None = None
        self.listings = 0

    def visible(self) -> list[Mount]:
        """Return every secrets engine in the listing, fetching it when stale."""
        with self._lock:
            self._refresh_if_stale()
            return sorted(self._mounts.values(), key=lambda mount: mount.path)

    def find(self, path: str) -> Mount | None:
        """Return the mount whose path is the longest prefix of ``path``, or None.

        Raises the hvac or requests exception of a failed lookup. A 403 on the
        listing falls back to the single-path lookup.
        """
        with self._lock:
            try:
                self._refresh_if_stale()
            except hvac.exceptions.Forbidden:
                # Some tokens lack the default policy, but the per-path lookup
                # may still be allowed. The empty listing is kept so that it is not
                # fetched again on every read.
                self._mounts = {}
                self._listed_at = time.monotonic()
            found = self._longest_prefix(path)
            if found is not None:
                return found
            try:
                data = self._lookup_mount(path)
            except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
                # Vault returns 403 (OpenBao 2.7) or 400 both when no mount serves
                # the path and when the token may use nothing below it.
                return None
            mount_path = str(data.get("path") or "")
            if not mount_path:
                return None
            mount = Mount.from_api(mount_path, data)
            self._mounts[mount.path] = mount
            return mount

    def _refresh_if_stale(self) -> None:
        now = time.monotonic()
        if self._listed_at is not None and now - self._listed_at < CACHE_SECONDS:
            return
        secret_engines = self._list_mounts()
        self.listings += 1
        self._mounts = {
            mount.path: mount
            for mount in (
                Mount.from_api(path, data)
                for path, data in secret_engines.items()
                if isinstance(data, dict)
            )
        }
        self._listed_at = now

    def _longest_prefix(self, path: str) -> Mount | None:
        best: Mount | None = None
        for mount in self._mounts.values():
            if (path + "/").startswith(mount.path) and (
                best is None or len(mount.path) > len(best.path)
            ):
                best = mount
        return best

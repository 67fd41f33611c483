"""The opt-in cross-run cache of an AWS integration (``cache_ttl``).

Off by default: with no cache every run reads the vault, so a rotation is always
seen. With ``cache_ttl`` set, a cached version is reused only after
``DescribeSecret`` (a control-plane call with a higher quota than reads) confirms
that the secret is not scheduled for deletion and that the requested stage still
points at the cached version (or, for a version pinned by ID, that the version still
exists), so a run never gets a value that is no longer current. Failures are never
cached.

NOTE: revoking the identity's GetSecretValue permission or disabling the secret's
KMS key is not visible to DescribeSecret, so cached values stay readable for up to
``cache_ttl`` seconds after such a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prizm.errors import PrizmError
from prizm.providers.aws.errors import map_aws_error
from prizm.providers.base import FetchCall, FetchOutcome, SecretRequest
from prizm.secrets import FetchedSecret

if TYPE_CHECKING:
    from prizm.providers.aws.provider import AwsProvider

__all__ = ["MAX_ENTRIES", "SecretCache", "plan_cached", "remember"]

log = logging.getLogger(__name__)

MAX_ENTRIES = 10000


@dataclass(frozen=True, slots=True)
class _Entry:
    fetched: FetchedSecret
    stored_at: float


class SecretCache:
    """Fetched secrets by request, each kept at most ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[SecretRequest, _Entry] = OrderedDict()

    def get(self, request: SecretRequest) -> FetchedSecret | None:
        """Return the cached secret for ``request`` if it is younger than the TTL."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(request)
            if entry is None:
                return None
            if now - entry.stored_at > self.ttl:
                del self._entries[request]
                return None
            return entry.fetched

    def put(self, request: SecretRequest, fetched: FetchedSecret) -> None:
        """Store a successfully fetched secret, evicting the oldest beyond the cap."""
        with self._lock:
            self._entries[request] = _Entry(fetched, time.monotonic())
            self._entries.move_to_end(request)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def discard(self, request: SecretRequest) -> None:
        with self._lock:
            self._entries.pop(request, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def plan_cached(
    provider: AwsProvider, cache: SecretCache, requests: list[SecretRequest]
) -> tuple[list[FetchCall], list[SecretRequest]]:
    """Return calls answering from the cache, and the requests it cannot answer."""
    calls: list[FetchCall] = []
    remaining: list[SecretRequest] = []
    for request in requests:
        cached = cache.get(request)
        if cached is None:
            remaining.append(request)
        else:
            calls.append(_revalidating(provider, cache, request, cached))
    return calls, remaining


def remember(cache: SecretCache, call: FetchCall) -> FetchCall:
    """Wrap ``call`` so that the secrets it fetches are stored in the cache."""

    def stored() -> Mapping[SecretRequest, FetchOutcome]:
        outcomes = call()
        for request, outcome in outcomes.items():
            if isinstance(outcome, FetchedSecret):
                cache.put(request, outcome)
        return outcomes

    return stored


def _revalidating(
    provider: AwsProvider,
    cache: SecretCache,
    request: SecretRequest,
    cached: FetchedSecret,
) -> FetchCall:
    def call() -> Mapping[SecretRequest, FetchOutcome]:
        current = _current_version(provider, request)
        if current is not None and current == cached.source.version_id:
            return {request: cached}
        cache.discard(request)
        outcome = provider.get_secret_value(request)
        if isinstance(outcome, FetchedSecret):
            cache.put(request, outcome)
        return {request: outcome}

    return call


def _current_version(provider: AwsProvider, request: SecretRequest) -> str | None:
    """Return the version ID the request names, if DescribeSecret still shows it.

    For a stage, the version the stage points at; for a pinned version ID, that ID
    while the secret still has it. A secret scheduled for deletion gives None.
    Needs ``secretsmanager:DescribeSecret``. Any failure returns None, which makes
    the caller read the secret instead of trusting the cache.
    """
    pinned = request.selected("version-id")
    stage = request.selected("version-stage") or "AWSCURRENT"
    client = provider.clients.client("secretsmanager", provider.region_of(request.name))
    try:
        described: dict[str, Any] = provider._timed(
            "DescribeSecret", lambda: client.describe_secret(SecretId=request.name)
        )
    except Exception as exc:  # noqa: BLE001 - the read that follows reports errors
        error: PrizmError = map_aws_error(
            exc, provider.context("DescribeSecret", request)
        )
        log.warning(
            "cache revalidation failed integration=%s code=%s; reading the secret",
            provider.name,
            error.code,
        )
        return None
    if described.get("DeletedDate") is not None:
        return None
    versions = described.get("VersionIdsToStages") or {}
    if pinned is not None:
        return pinned if pinned in versions else None
    for version, stages in versions.items():
        if stage in stages:
            return str(version)
    return None

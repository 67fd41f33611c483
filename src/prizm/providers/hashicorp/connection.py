"""The hvac clients of one Vault integration, and timed calls with retries.

One ``VaultConnection`` exists per integration and process. Its hvac clients share
one ``requests.Session`` and so its connection pool. ``client`` sends the token and
the secrets' namespace, ``login_client`` sends no token and the login namespace, and
``root_client`` sends neither.

Setting ``client.token`` is a single attribute assignment, so threads may keep
sending requests while another thread swaps in a new token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
import urllib3

from prizm.metrics import metrics
from prizm.providers.hashicorp.settings import HashicorpSettings

__all__ = ["MAX_ATTEMPTS", "VaultConnection"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 3
"""Attempts per call when Vault returns 429. Other failures are not retried."""

RETRY_DELAYS = (0.25, 0.75)


class VaultConnection:
    """The hvac clients of one integration, and ``call`` to time and retry calls."""

    def __init__(self, integration: str, settings: HashicorpSettings) -> None:
        self.integration = integration
        self.settings = settings
        self.session = requests.Session()
        verify: bool | str = True
        if settings.tls_skip_verify:
            verify = False
            # One warning per integration is logged below, so urllib3's warning on
            # every request is turned off.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            log.warning(
                "TLS certificate verification is off for integration=%s", integration
            )
        elif settings.ca_cert:
            verify = settings.ca_cert
        cert: tuple[str, str] | None = None
        if settings.client_cert and settings.client_key:
            cert = (settings.client_cert, settings.client_key)
        self.session.verify = verify
        self.session.cert = cert
        self.client = self._client(settings.namespace, verify, cert)
        self.login_client = self._client(settings.login_namespace, verify, cert)
        # For root-namespace endpoints such as sys/seal-status: no token, no
        # namespace.
        self.root_client = self._client(None, verify, cert)

    def _client(
        self, namespace: str | None, verify: bool | str, cert: tuple[str, str] | None
    ) -> Any:
        # An empty token and an explicit cert keep hvac from reading VAULT_TOKEN,
        # ~/.vault-token or VAULT_CLIENT_CERT, so only the integration's settings
        # count.
        return hvac.Client(
            url=self.settings.address,
            token="",
            verify=verify,
            cert=cert or False,
            timeout=self.settings.timeout,
            session=self.session,
            namespace=namespace,
        )

    def call(self, operation: str, function: Callable[[], T]) -> T:
        """Run one Vault API call, retrying on 429, and record it in the metrics."""
        attempt = 1
        while True:
            started = time.perf_counter()
            outcome = "ok"
            try:
                return function()
            except hvac.exceptions.RateLimitExceeded:
                outcome = "RateLimitExceeded"
                if attempt >= MAX_ATTEMPTS:
                    raise
            except Exception as exc:
                outcome = exc.__class__.__name__
                raise
            finally:
                self._record(operation, outcome, time.perf_counter() - started)
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
            log.warning(
                "vault throttled integration=%s operation=%s attempt=%d retry_in=%.2f",
                self.integration,
                operation,
                attempt,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def _record(self, operation: str, outcome: str, seconds: float) -> None:
        metrics.record_call(
            integration=self.integration,
            provider="hashicorp",
            operation=operation,
            outcome=outcome,
            seconds=seconds,
        )
        log.debug(
            "vault call integration=%s operation=%s outcome=%s seconds=%.4f",
            self.integration,
            operation,
            outcome,
            seconds,
        )

    def set_token(self, token: str) -> None:
        self.client.token = token

    def close(self) -> None:
        self.session.close()

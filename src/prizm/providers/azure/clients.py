"""The Key Vault client and credential of one integration, built once and shared.

One ``AzureClients`` exists per integration and process. The ``SecretClient`` is
thread-safe (as every Azure SDK client is documented to be), so every fetch thread
uses the same client, connection pool and cached token.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline import Pipeline
from azure.core.pipeline.policies import UserAgentPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient

from prizm.providers.azure.credentials import (
    USER_AGENT,
    build_credential,
    http_options,
    retry_policy,
)
from prizm.providers.azure.settings import AzureSettings

__all__ = ["AzureClients", "Challenge"]

CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')

# azure-identity logs each failed token request at WARNING. Prizm reports the
# failure as a typed error, so when the application set up no logging, the SDK's
# copy must not reach standard error through logging's last-resort handler. A
# NullHandler stops only that fallback: records still propagate to the root logger.
logging.getLogger("azure").addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class Challenge:
    """The ``WWW-Authenticate: Bearer`` challenge a vault sends to anonymous calls."""

    authorization: str
    tenant_id: str | None
    scope: str

    @classmethod
    def parse(cls, header: str) -> Challenge | None:
        """Parse a Key Vault bearer challenge, or return None if it is not one."""
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        parameters = dict(CHALLENGE_PARAMETER.findall(rest))
        authorization = parameters.get("authorization") or parameters.get(
            "authorization_uri"
        )
        scope = parameters.get("scope") or ""
        if not scope and parameters.get("resource"):
            scope = parameters["resource"].rstrip("/") + "/.default"
        if not authorization or not scope:
            return None
        path = authorization.split("://", 1)[-1].partition("/")[2]
        tenant = path.split("/", 1)[0] or None
        return cls(authorization=authorization, tenant_id=tenant, scope=scope)


class AzureClients:
    """The lazily built credential and ``SecretClient`` of one integration."""

    def __init__(self, settings: AzureSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._credential: TokenCredential | None = None
        self._secrets: SecretClient | None = None

    def credential(self) -> TokenCredential:
        """Return the credential.

        Raises ``OSError``, ``ValueError`` or ``TypeError`` when the certificate file
        cannot be read or its key's password is missing or wrong.
        """
        with self._lock:
            if self._credential is None:
                self._credential = build_credential(self.settings)
            return self._credential

    def secrets(self) -> SecretClient:
        """Return the shared ``SecretClient`` of the vault."""
        if self._secrets is not None:
            return self._secrets
        credential = self.credential()
        with self._lock:
            if self._secrets is None:
                # The SDK checks that the challenge's resource (vault.azure.net)
                # matches the vault's host. A loopback test server or emulator
                # cannot match, so only there the check is turned off, with the
                # documented SecretClient option verify_challenge_resource.
                self._secrets = SecretClient(
                    self.settings.vault_url,
                    credential,
                    verify_challenge_resource=not self.settings.is_loopback(),
                    retry_policy=retry_policy(self.settings),
                    **http_options(self.settings),
                )
            return self._secrets

    def challenge(self) -> tuple[int, Challenge | None]:
        """Send one anonymous GET /secrets and return the status and challenge.

        Key Vault returns 401 and a bearer challenge for any call without a token,
        so no permission is needed. The challenge names the tenant and token scope.
        """
        options: dict[str, Any] = http_options(self.settings)
        transport = RequestsTransport(**options)
        policies = [
            UserAgentPolicy(base_user_agent=USER_AGENT),
            retry_policy(self.settings),
        ]
        request = HttpRequest(
            "GET",
            f"{self.settings.vault_url}/secrets",
            params={"api-version": "7.5", "maxresults": "1"},
        )
        with Pipeline(transport, policies=policies) as pipeline:  # type: ignore[arg-type]
            response = pipeline.run(request).http_response
        header = response.headers.get("WWW-Authenticate", "")
        return response.status_code, Challenge.parse(header) if header else None

    def close(self) -> None:
        with self._lock:
            secrets, self._secrets = self._secrets, None
            credential, self._credential = self._credential, None
        if secrets is not None:
            secrets.close()
        close = getattr(credential, "close", None)
        if callable(close):
            close()

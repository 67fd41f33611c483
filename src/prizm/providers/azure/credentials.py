"""The azure-identity credential and the HTTP options of one Key Vault integration.

Each authentication method maps to one azure-identity credential class:

* ``client-secret``: ``ClientSecretCredential`` (tenant ID, client ID, client secret).
* ``client-certificate``: ``CertificateCredential`` (tenant ID, client ID, a PEM file
  that contains the certificate and its private key).
* ``managed-identity``: ``ManagedIdentityCredential``, system-assigned, or
  user-assigned when a client ID is given.
* ``default``: ``DefaultAzureCredential`` limited to the members a server uses:
  environment, workload identity, managed identity and the Azure CLI. Its developer
  members (Visual Studio Code, Azure PowerShell, the Azure Developer CLI, the shared
  token cache, the broker and the interactive browser) are always excluded.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.identity import (
    AzureAuthorityHosts,
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from prizm import redaction
from prizm.providers.azure.settings import AzureSettings

__all__ = [
    "USER_AGENT",
    "BoundedRetryPolicy",
    "authority_options",
    "build_credential",
    "http_options",
    "retry_policy",
]

log = logging.getLogger(__name__)

USER_AGENT = "prizm/0.1"

KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
        AzureAuthorityHosts.AZURE_CHINA,
        AzureAuthorityHosts.AZURE_GOVERNMENT,
    }
)

EXCLUDE_OPTIONS = {
    "environment": "exclude_environment_credential",
    "workload-identity": "exclude_workload_identity_credential",
    "managed-identity": "exclude_managed_identity_credential",
    "azure-cli": "exclude_cli_credential",
}

ALWAYS_EXCLUDED = (
    "exclude_shared_token_cache_credential",
    "exclude_visual_studio_code_credential",
    "exclude_powershell_credential",
    "exclude_developer_cli_credential",
    "exclude_interactive_browser_credential",
    "exclude_broker_credential",
)


class BoundedRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
    """azure-core's ``RetryPolicy`` that gives up when ``Retry-After`` is too long.

    azure-core 1.41 sleeps for the whole ``Retry-After`` however long it is, so a
    response whose ``Retry-After`` exceeds ``max_retry_wait`` seconds is returned as
    it is, and the caller reports it as throttled.
    """

    def __init__(self, *, max_retry_wait: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_retry_wait = max_retry_wait

    def is_retry(
        self, settings: dict[str, Any], response: PipelineResponse[Any, Any]
    ) -> bool:
        if not super().is_retry(settings, response):
            return False
        wait = self.get_retry_after(response)
        if wait is not None and wait > self.max_retry_wait:
            log.info(
                "azure call not retried status=%s url=%s retry_after=%.0f "
                "max_retry_wait=%.0f",
                response.http_response.status_code,
                response.http_request.url,
                wait,
                self.max_retry_wait,
            )
            return False
        return True


def retry_policy(settings: AzureSettings) -> BoundedRetryPolicy:
    """Return the retry policy of the Key Vault client, as ``http_options`` sets."""
    return BoundedRetryPolicy(
        max_retry_wait=settings.max_retry_wait,
        retry_total=settings.max_retries,
        retry_backoff_max=settings.max_retry_wait,
        timeout=retry_budget(settings),
    )


def retry_budget(settings: AzureSettings) -> float:
    """Return the seconds one call may take with all its retries and waits."""
    attempts = settings.max_retries + 1
    per_attempt = settings.connect_timeout + settings.read_timeout
    return attempts * per_attempt + settings.max_retries * settings.max_retry_wait


def http_options(settings: AzureSettings) -> dict[str, Any]:
    """Return the azure-core options for timeouts, retries and TLS verification.

    They apply to the Key Vault client and to the credential's token requests.
    ``retry_total`` counts retries after the first attempt. azure-core waits for
    ``Retry-After`` when a response has it, else backs off exponentially up to
    ``retry_backoff_max``. Once ``timeout`` seconds have passed, it stops retrying.
    """
    options: dict[str, Any] = {
        "connection_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "retry_total": settings.max_retries,
        "retry_backoff_max": settings.max_retry_wait,
        # NOTE: the credentials take no retry policy object, so a token request
        # still waits one whole Retry-After before this limit ends its retries.
        "timeout": retry_budget(settings),
        "user_agent": USER_AGENT,
    }
    if settings.ca_bundle:
        options["connection_verify"] = settings.ca_bundle
    return options


def authority_options(settings: AzureSettings) -> dict[str, Any]:
    """Return the credential options that select the Microsoft Entra authority."""
    authority = settings.authority()
    if authority is None:
        return {}
    options: dict[str, Any] = {"authority": authority}
    if (urlsplit(authority).hostname or "") not in KNOWN_AUTHORITY_HOSTS:
        # MSAL validates an unknown authority through instance discovery at
        # login.microsoftonline.com. A loopback test server or an Azure Stack
        # authority is not known there, so the lookup is turned off for them.
        options["disable_instance_discovery"] = True
    return options


def build_credential(settings: AzureSettings) -> TokenCredential:
    """Return the credential for the integration's authentication method.

    Raises ``OSError``, ``ValueError`` or ``TypeError`` when the certificate file
    cannot be read or its key's password is missing or wrong.
    """
    options = http_options(settings)
    if settings.auth == "managed-identity":
        return ManagedIdentityCredential(client_id=settings.client_id, **options)

    options.update(authority_options(settings))
    if settings.auth == "client-secret":
        assert settings.tenant_id
        assert settings.client_id
        assert settings.client_secret
        secret = settings.client_secret.get_secret_value()
        # Masks the client secret in any log line an SDK might write.
        redaction.register(secret)
        return ClientSecretCredential(
            settings.tenant_id, settings.client_id, secret, **options
        )
    if settings.auth == "client-certificate":
        assert settings.tenant_id
        assert settings.client_id
        assert settings.certificate_file
        password = settings.certificate_password
        if password is not None:
            redaction.register(password.get_secret_value())
        return CertificateCredential(
            settings.tenant_id,
            settings.client_id,
            certificate_path=settings.certificate_file,
            password=password.get_secret_value() if password else None,
            **options,
        )

    for name in ALWAYS_EXCLUDED:
        options[name] = True
    for member in settings.exclude_credentials:
        options[EXCLUDE_OPTIONS[member]] = True
    if settings.client_id:
        options["managed_identity_client_id"] = settings.client_id
    return DefaultAzureCredential(**options)

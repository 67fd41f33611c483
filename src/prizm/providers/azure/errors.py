"""Mapping of azure-core and azure-identity errors to Prizm errors, in one place.

Key Vault returns errors as JSON ``{"error": {"code", "message", "innererror":
{"code"}}}``. The inner code tells apart cases that share a status: 403 is
``SecretDisabled`` for a disabled secret, which is not a permission problem, and
``ForbiddenByRbac``, ``AccessDenied`` or ``ForbiddenByFirewall`` when the caller may
not read it.

No mapped error keeps the Azure exception as its cause: an ``HttpResponseError``
contains the HTTP response and, through it, the request, whose headers carry the bearer
token, or whose body carries the client secret for a token request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.identity import CredentialUnavailableError

from prizm import redaction
from prizm.errors import (
    AccessDenied,
    EndpointUnreachable,
    InvalidCredentials,
    InvalidReference,
    PrizmError,
    RequestTimeout,
    SecretNotFound,
    ServiceError,
    Throttled,
    VersionNotFound,
)
from prizm.providers.azure.lifecycle import (
    disabled_error,
    expired_error,
    not_yet_valid_error,
)

__all__ = [
    "AzureErrorContext",
    "KeyVaultError",
    "map_azure_error",
    "summarize",
]

MAX_DETAIL_LENGTH = 300
MAX_SUMMARY_LENGTH = 600
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class AzureErrorContext:
    """The integration, vault, operation and secret that a mapped error names."""

    integration: str
    vault_url: str
    operation: str
    auth: str
    secret: str | None = None
    version: str | None = None
    read_timeout: float | None = None
    max_retries: int | None = None
    max_retry_wait: float | None = None

    def where(self) -> str:
        return f"in Azure Key Vault {self.vault_url} (integration '{self.integration}')"

    def target(self, *, capital: bool = False) -> str:
        """Name the secret and version, or the vault when there is no secret."""
        if self.secret is None:
            text = "the vault"
        elif self.version is None:
            text = f"secret '{self.secret}'"
        else:
            text = f"secret '{self.secret}' version {self.version}"
        return text[:1].upper() + text[1:] if capital else text

    def fields(self) -> dict[str, str]:
        return {"integration": self.integration, "location": f"vault {self.vault_url}"}

    def vault_name(self) -> str:
        host = self.vault_url.split("://", 1)[-1]
        return host.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class KeyVaultError:
    """The parts of a Key Vault error response that mapping looks at."""

    status: int
    code: str
    inner_code: str
    message: str
    retry_after: str | None = None

    @classmethod
    def from_exception(cls, exc: HttpResponseError) -> KeyVaultError:
        response = exc.response
        status = int(exc.status_code or getattr(response, "status_code", 0) or 0)
        if status == 0 and isinstance(exc, ResourceNotFoundError):
            status = 404
        retry_after = None
        body: Any = None
        if response is not None:
            headers = getattr(response, "headers", None) or {}
            retry_after = headers.get("Retry-After")
            try:
                body = json.loads(response.text())
            except (ValueError, TypeError, AttributeError):
                body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, "", "", "", retry_after)
        inner = error.get("innererror") or error.get("innerError") or {}
        inner_code = inner.get("code", "") if isinstance(inner, dict) else ""
        return cls(
            status,
            str(error.get("code") or ""),
            str(inner_code or ""),
            _first_line(str(error.get("message") or "")),
            retry_after,
        )

    def codes(self) -> str:
        return "/".join(code for code in (self.code, self.inner_code) if code)


def _throttled(
    error: KeyVaultError, context: AzureErrorContext, target: str
) -> Throttled:
    hint = (
        "Retry later or start fewer runs at once; Key Vault limits requests per "
        "vault and per identity."
    )
    wait = _seconds(error.retry_after)
    limit = context.max_retry_wait
    if wait is not None and limit is not None and wait > limit:
        # BoundedRetryPolicy returned the first such response without a retry.
        return Throttled(
            f"Azure Key Vault throttled {context.operation} for {target} and asked "
            f"to retry after {wait:g} s, which is longer than the maximum wait of "
            f"{limit:g} s, so it was not retried {context.where()}.",
            hint=f"{hint} To wait longer, run: prizm integration update azure "
            f"{context.integration} --max-retry-wait SECONDS.",
            **context.fields(),
        )
    retries = f" after {context.max_retries} retries" if context.max_retries else ""
    requested = (
        f"; it asked to retry after {error.retry_after} s" if error.retry_after else ""
    )
    return Throttled(
        f"Azure Key Vault throttled {context.operation} for {target}{retries}"
        f"{requested} {context.where()}.",
        hint=hint,
        **context.fields(),
    )


def _seconds(retry_after: str | None) -> float | None:
    """Return a ``Retry-After`` in seconds, or None if it is missing or a date."""
    try:
        return float(retry_after) if retry_after else None
    except ValueError:
        return None


def _first_line(text: str) -> str:
    """Return the first line of a service message, shortened and masked."""
    # Mask before collapsing whitespace or cutting, which could change a value.
    text = redaction.scrub(text)
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = _WHITESPACE.sub(" ", line)
    if len(line) > MAX_DETAIL_LENGTH:
        line = line[:MAX_DETAIL_LENGTH] + "..."
    return line


def summarize(text: str) -> str:
    """Return an error message on one line, shortened and masked.

    Chained credentials list one failure per line, so all lines are kept.
    """
    text = redaction.scrub(text.split("To mitigate this issue", 1)[0])
    line = _WHITESPACE.sub(" ", text).strip()
    if len(line) > MAX_SUMMARY_LENGTH:
        line = line[:MAX_SUMMARY_LENGTH] + "..."
    return line


def _credentials_hint(context: AzureErrorContext) -> str:
    update = f"prizm integration update azure {context.integration}"
    if context.auth == "client-secret":
        return (
            "Check the tenant ID, the client ID and the client secret (its value, not "
            "its ID) and that the secret has not expired; enter a new one with: "
            f"{update} --client-secret-stdin."
        )
    if context.auth == "client-certificate":
        return (
            "Check that the PEM file contains the certificate and its private key, "
            "and that the certificate is uploaded to the app registration and not "
            f"expired. Point to another file with: {update} --certificate-file PATH."
        )
    if context.auth == "managed-identity":
        return (
            "Check that the host running Prizm has a managed identity and, for a "
            "user-assigned identity, that the client ID is right."
        )
    return (
        "Check the sources the default chain reads: the AZURE_TENANT_ID, "
        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET variables, the workload identity "
        "token file, the managed identity, or az login."
    )


def _access_hint(inner_code: str) -> str:
    if inner_code == "ForbiddenByFirewall":
        return (
            "Allow the address Prizm connects from in the vault's Networking "
            "settings, or reach the vault through a private endpoint."
        )
    if inner_code == "ForbiddenByRbac":
        return (
            "Assign the Key Vault Secrets User role on the vault or on the secret to "
            "the integration's identity; new role assignments can take a few minutes "
            "to apply."
        )
    return (
        "Grant the identity the Get permission on secrets in the vault's access "
        "policy, or the Key Vault Secrets User role if the vault uses Azure RBAC."
    )


def map_azure_error(exc: BaseException, context: AzureErrorContext) -> PrizmError:
    """Map an exception raised by the Key Vault client or a credential."""
    mapped = _map(exc, context)
    # Deliberately no cause: the Azure exception contains the request (see the
    # module docstring).
    mapped.__cause__ = None
    mapped.__suppress_context__ = True
    return mapped


def _map(exc: BaseException, context: AzureErrorContext) -> PrizmError:
    if isinstance(exc, CredentialUnavailableError):
        return InvalidCredentials(
            f"No credential for {context.auth} authentication was available to get "
            f"a token {context.where()}: {summarize(exc.message)}",
            hint=_credentials_hint(context),
            **context.fields(),
        )
    if isinstance(exc, ClientAuthenticationError) and not _from_vault(exc, context):
        return InvalidCredentials(
            f"The {context.auth} credential could not get an access token for the "
            f"vault {context.where()}: {summarize(exc.message)}",
            hint=_credentials_hint(context),
            **context.fields(),
        )
    if isinstance(exc, DecodeError):
        return ServiceError(
            f"Key Vault's response to {context.operation} could not be decoded "
            f"{context.where()}.",
            hint="Check that the vault URL points to Azure Key Vault and not to a "
            "proxy or login page.",
            **context.fields(),
        )
    if isinstance(exc, HttpResponseError):
        response = KeyVaultError.from_exception(exc)
        if response.status == 0:
            return ServiceError(
                f"{context.operation} on {context.target()} failed without an HTTP "
                f"status ({exc.__class__.__name__}) {context.where()}.",
                hint="Retry; if it persists, check the network path to the vault.",
                **context.fields(),
            )
        return map_response_error(response, context)
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        limit = f" within {context.read_timeout:g} s" if context.read_timeout else ""
        return RequestTimeout(
            f"Azure did not answer {context.operation}{limit} {context.where()}.",
            hint="Check the network path to the vault, or raise the integration's "
            "timeouts with --connect-timeout and --read-timeout.",
            **context.fields(),
        )
    if isinstance(exc, ServiceRequestError) and _is_tls_error(exc):
        return EndpointUnreachable(
            f"The TLS handshake failed for {context.operation} {context.where()}.",
            hint="Check the vault URL, and give the CA bundle of a TLS-inspecting "
            "proxy or private CA with --ca-bundle.",
            **context.fields(),
        )
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return EndpointUnreachable(
            f"Could not connect for {context.operation} ({exc.__class__.__name__}) "
            f"{context.where()}.",
            hint="Check the vault URL, DNS, and the network or proxy between Prizm "
            "and Azure.",
            **context.fields(),
        )
    if isinstance(exc, ValueError) and "challenge" in str(exc).lower():
        return ServiceError(
            f"The vault's authentication challenge does not match its host "
            f"{context.where()}.",
            hint="Check that the vault URL is the vault's own URL as shown in the "
            "Azure portal (its 'Vault URI').",
            **context.fields(),
        )
    return ServiceError(
        f"An unexpected {exc.__class__.__name__} occurred in {context.operation} "
        f"{context.where()}.",
        hint="Retry; if it persists, report it with the Prizm version.",
        **context.fields(),
    )


def map_response_error(error: KeyVaultError, context: AzureErrorContext) -> PrizmError:
    """Map a Key Vault error response by status and inner code."""
    target = context.target()
    detail = f" ({error.codes()})" if error.codes() else ""
    if error.status == 401:
        return InvalidCredentials(
            f"Key Vault rejected the integration's access token{detail} "
            f"{context.where()}.",
            hint="Check that the identity belongs to the vault's tenant. "
            + _credentials_hint(context),
            **context.fields(),
        )
    if error.status == 403:
        return _forbidden(error, context)
    if error.status == 404:
        if context.version is not None:
            return VersionNotFound(
                f"Secret '{context.secret}' has no version {context.version} "
                f"{context.where()}, or the secret does not exist.",
                hint="Check the version ID in the Azure portal, or drop ?version= to "
                "read the latest version.",
                **context.fields(),
            )
        return SecretNotFound(
            f"Secret '{context.secret}' was not found {context.where()}.",
            hint="Check the secret name and the vault URL. A recently deleted secret "
            "may still be recoverable (az keyvault secret list-deleted).",
            **context.fields(),
        )
    if error.status == 429:
        return _throttled(error, context, target)
    if error.status == 400:
        return InvalidReference(
            f"Key Vault rejected {context.operation} for {target} as invalid{detail} "
            f"{context.where()}: {error.message}",
            hint="Check the secret name and version as shown in the Azure portal.",
            **context.fields(),
        )
    return ServiceError(
        f"Key Vault returned HTTP {error.status}{detail} for {context.operation} on "
        f"{target} {context.where()}.",
        hint="Retry; if it persists, check Azure status for the vault's region.",
        **context.fields(),
    )


def _forbidden(error: KeyVaultError, context: AzureErrorContext) -> PrizmError:
    inner = error.inner_code
    lowered = error.message.lower()
    if inner == "SecretDisabled" or "disabled secret" in lowered:
        return disabled_error(context)
    if inner == "SecretExpired" or "expired secret" in lowered:
        return expired_error(context, None)
    if inner == "SecretNotYetValid" or "not yet valid" in lowered:
        return not_yet_valid_error(context, None)
    detail = f" ({error.codes()})" if error.codes() else ""
    service = f" Key Vault said: {error.message}" if error.message else ""
    return AccessDenied(
        f"The integration's identity may not call {context.operation} on "
        f"{context.target()}{detail} {context.where()}.{service}",
        hint=_access_hint(inner),
        **context.fields(),
    )


def _from_vault(exc: ClientAuthenticationError, context: AzureErrorContext) -> bool:
    """Return whether a 401 came from the vault, not from the token endpoint."""
    request = getattr(exc.response, "request", None)
    url = str(getattr(request, "url", "") or "")
    return url.lower().startswith(context.vault_url.lower() + "/")


def _is_tls_error(exc: ServiceRequestError) -> bool:
    text = f"{exc.message} {exc.inner_exception!r}".lower()
    return "ssl" in text or "certificate" in text

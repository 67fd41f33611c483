"""The Azure Key Vault provider: references to requests, and fetching them.

Key Vault has no batch read, so ``plan_fetch`` returns one Get Secret call per
distinct secret version and the resolver runs them concurrently. Each call checks
the version's attributes: Key Vault returns 403 ``SecretDisabled`` for a disabled
version, but it documents that Get Secret still returns a secret outside its
``nbf``/``exp`` window, so Prizm rejects those itself (``secret_not_yet_valid``,
``secret_expired``).

Permissions: Get on secrets (Azure RBAC: the Key Vault Secrets User role, or the Get
secret permission of an access policy). On a 404 the provider also requests the
deleted secret, which needs permission to read deleted secrets. Without it the error
stays ``secret_not_found``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties

from prizm.errors import (
    InvalidCredentials,
    InvalidReference,
    PrizmError,
    SecretNotFound,
    VersionNotFound,
)
from prizm.metrics import metrics
from prizm.providers.azure.clients import AzureClients
from prizm.providers.azure.errors import (
    AzureErrorContext,
    map_azure_error,
    summarize,
)
from prizm.providers.azure.lifecycle import check_attributes, deleted_error
from prizm.providers.azure.settings import AzureSettings
from prizm.providers.base import (
    FetchCall,
    FetchOutcome,
    SecretRequest,
    TestReport,
    too_large,
)
from prizm.references import Reference
from prizm.secrets import FetchedSecret, SecretSource, SecretValue

__all__ = ["AzureProvider"]

log = logging.getLogger(__name__)

SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
VERSION = re.compile(r"[0-9A-Fa-f]{32}")
OPTIONS_FORM = "?version=<version-id>"
T = TypeVar("T")


class AzureProvider:
    """Fetches secrets from one Azure Key Vault for one integration."""

    type_name: ClassVar[str] = "azure"
    policy_case_sensitive: ClassVar[bool] = False
    """Key Vault names are case-insensitive, so allowed patterns are too."""

    def __init__(self, name: str, settings: AzureSettings) -> None:
        self.name = name
        self.settings = settings
        self.clients = AzureClients(settings)

    def location(self, name: str | None = None) -> str:
        return self.settings.location()

    def request_for(self, reference: Reference) -> SecretRequest:
        """Check the secret name and the ``version`` option of ``reference``.

        Key Vault names are case-insensitive, so the request uses the lowercase
        name: references that differ only in case fetch one secret.
        """
        name = reference.name
        if not SECRET_NAME.fullmatch(name):
            raise self._invalid(
                reference, _name_problem(name), hint=_dashed_hint(reference)
            )
        for option, _ in reference.options:
            if option != "version":
                raise self._invalid(
                    reference,
                    f"Azure Key Vault integrations take ?version=<id>, not {option}",
                )
        version = reference.option("version")
        if version is None:
            return SecretRequest(name.lower())
        if not VERSION.fullmatch(version):
            raise self._invalid(
                reference,
                f"version {version!r} is not a Key Vault version ID (32 hexadecimal "
                "characters, the last part of the secret identifier)",
            )
        return SecretRequest(name.lower(), (("version", version.lower()),))

    def _invalid(
        self, reference: Reference, problem: str, hint: str | None = None
    ) -> InvalidReference:
        return InvalidReference(
            f"Invalid reference {reference}: {problem}.",
            hint=hint
            or f"Write it as vault://{self.name}/<secret-name>[{OPTIONS_FORM}]"
            "[#<key>].",
            reference=str(reference),
            integration=self.name,
            location=self.location(),
        )

    def context(
        self, operation: str, request: SecretRequest | None, version: str | None = None
    ) -> AzureErrorContext:
        """Return what an error for ``operation`` on ``request`` names."""
        return AzureErrorContext(
            integration=self.name,
            vault_url=self.settings.vault_url,
            operation=operation,
            auth=self.settings.auth,
            secret=request.name if request else None,
            version=version or (request.selected("version") if request else None),
            read_timeout=self.settings.read_timeout,
            max_retries=self.settings.max_retries,
            max_retry_wait=self.settings.max_retry_wait,
        )

    def plan_fetch(
        self, requests: Sequence[SecretRequest], *, fresh: bool = False
    ) -> list[FetchCall]:
        """Plan one Get Secret call per distinct secret version.

        Nothing is cached across runs, so ``fresh`` changes nothing here.
        """
        return [self._call(request) for request in dict.fromkeys(requests)]

    def _call(self, request: SecretRequest) -> FetchCall:
        def call() -> Mapping[SecretRequest, FetchOutcome]:
            return {request: self.get_secret(request)}

        return call

    def credential(self, context: AzureErrorContext) -> TokenCredential | PrizmError:
        """Return the shared credential, or the error of building it."""
        try:
            return self.clients.credential()
        except (OSError, ValueError, TypeError) as exc:
            return self._credential_error(exc, context)

    def secret_client(self, context: AzureErrorContext) -> SecretClient | PrizmError:
        """Return the shared client, or the error of building its credential."""
        try:
            return self.clients.secrets()
        except (OSError, ValueError, TypeError) as exc:
            return self._credential_error(exc, context)

    def _credential_error(
        self, exc: OSError | ValueError | TypeError, context: AzureErrorContext
    ) -> InvalidCredentials:
        if self.settings.auth == "client-certificate":
            # Only the class name: a decoding error could quote the file.
            error = InvalidCredentials(
                f"The certificate file {self.settings.certificate_file} could not be "
                f"loaded ({exc.__class__.__name__}) {context.where()}.",
                hint="Give a readable PEM file that contains the certificate and its "
                "private key, and the key's password with "
                "--certificate-password-stdin if it has one.",
                **context.fields(),
            )
        else:
            error = InvalidCredentials(
                f"The {self.settings.auth} credential could not be created "
                f"({exc.__class__.__name__}: {summarize(str(exc))}) {context.where()}.",
                hint="Check the integration's authentication settings and the "
                "AZURE_* environment variables of the Prizm process.",
                **context.fields(),
            )
        error.__suppress_context__ = True
        return error

    def get_secret(self, request: SecretRequest) -> FetchOutcome:
        """Read one secret version with Get Secret (GET /secrets/{name}/{version}).

        Needs the Get permission on secrets (the Key Vault Secrets User role).
        """
        return self.read_secret(request)[0]

    def read_secret(
        self, request: SecretRequest
    ) -> tuple[FetchOutcome, SecretProperties | None]:
        """Read one secret version; also return its properties when it was read."""
        context = self.context("GetSecret", request)
        client = self.secret_client(context)
        if isinstance(client, PrizmError):
            return client, None
        version = request.selected("version")
        try:
            secret = self._timed(
                "GetSecret", lambda: client.get_secret(request.name, version)
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed outcome
            error = map_azure_error(exc, context)
            if isinstance(error, (SecretNotFound, VersionNotFound)):
                return self._deleted_or(client, request, error), None
            return error, None
        return self._fetched(request, secret), secret.properties

    def _deleted_or(
        self, client: SecretClient, request: SecretRequest, error: PrizmError
    ) -> PrizmError:
        """Return ``secret_deleted`` if the secret is soft-deleted, else ``error``.

        Calls Get Deleted Secret (GET /deletedsecrets/{name}), which needs
        permission to read deleted secrets (access policy: List on secrets).
        """
        try:
            deleted = self._timed(
                "GetDeletedSecret", lambda: client.get_deleted_secret(request.name)
            )
        except HttpResponseError as exc:
            if exc.status_code != 404:
                log.debug(
                    "deleted-secret check failed integration=%s secret=%s status=%s",
                    self.name,
                    request.name,
                    exc.status_code,
                )
            return error
        except Exception as exc:  # noqa: BLE001 - the check is optional
            log.debug(
                "deleted-secret check failed integration=%s secret=%s error=%s",
                self.name,
                request.name,
                exc.__class__.__name__,
            )
            return error
        return deleted_error(
            self.context("GetSecret", request),
            deleted.deleted_date,
            deleted.scheduled_purge_date,
        )

    def _fetched(self, request: SecretRequest, secret: KeyVaultSecret) -> FetchOutcome:
        properties = secret.properties
        context = self.context("GetSecret", request, properties.version)
        blocked = check_attributes(properties, context, datetime.now(UTC))
        if blocked is not None:
            return blocked
        oversized = too_large(
            secret.value or "", f"'{request.name}'", context.where(), **context.fields()
        )
        if oversized is not None:
            return oversized
        source = SecretSource(
            integration=self.name,
            provider=self.type_name,
            secret_id=str(properties.id or f"{self.settings.vault_url}/secrets/"),
            version_id=properties.version,
            created=properties.created_on,
        )
        return FetchedSecret(document=SecretValue(secret.value or ""), source=source)

    def _timed(self, operation: str, function: Callable[[], T]) -> T:
        """Call ``function``, count it in the metrics, and return its result."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            return function()
        except Exception as exc:
            outcome = _outcome_name(exc)
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.record_call(
                integration=self.name,
                provider=self.type_name,
                operation=operation,
                outcome=outcome,
                seconds=elapsed,
            )
            log.debug(
                "azure call integration=%s operation=%s outcome=%s seconds=%.4f",
                self.name,
                operation,
                outcome,
                elapsed,
            )

    def test_connection(self, secrets: Sequence[str]) -> TestReport:
        """Run Test Connection; see ``prizm.providers.azure.check``."""
        from prizm.providers.azure.check import run_checks

        return run_checks(self, secrets)

    def close(self) -> None:
        self.clients.close()


def _name_problem(name: str) -> str:
    """Describe why ``name`` is not a valid Key Vault secret name."""
    rule = (
        "Key Vault secret names contain only letters, digits and dashes (1 to 127 "
        "characters)"
    )
    if len(name) > 127:
        return f"{rule}, and this name is longer"
    return f"{rule}, so {name!r} cannot name a secret"


def _dashed_hint(reference: Reference) -> str | None:
    """Suggest the reference with the dashed name, or return None if there is none.

    A secret connector field shows only the hint, because its message could repeat
    a mistyped password, so the suggestion must be in the hint too.
    """
    dashed = _dashed_name(reference.name)
    if dashed is None:
        return None
    suggested = Reference(
        reference.integration, dashed, reference.options, reference.key
    )
    return f"Store the secret as '{dashed}' and write {suggested}."


def _dashed_name(name: str) -> str | None:
    """Return ``name`` with '/', '_' and '.' as dashes, if that is a valid name."""
    dashed = re.sub(r"[/_.]", "-", name)
    if dashed != name and SECRET_NAME.fullmatch(dashed):
        return dashed
    return None


def _outcome_name(exc: BaseException) -> str:
    if isinstance(exc, HttpResponseError) and exc.status_code:
        return f"HTTP {exc.status_code}"
    return exc.__class__.__name__

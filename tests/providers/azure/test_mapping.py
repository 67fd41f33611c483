"""Every azure-core and azure-identity error the provider can meet maps to a code."""

from __future__ import annotations

import inspect

import pytest
from azure.core import exceptions as core_exceptions
from azure.core.exceptions import (
    AzureError,
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

from prizm.providers.azure.errors import (
    AzureErrorContext,
    KeyVaultError,
    map_azure_error,
    map_response_error,
)

CONTEXT = AzureErrorContext(
    integration="azure",
    vault_url="https://kv1.vault.azure.net",
    operation="GetSecret",
    auth="client-secret",
    secret="db",
    read_timeout=10.0,
    max_retries=3,
)


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (CredentialUnavailableError("no identity"), "invalid_credentials"),
        (ClientAuthenticationError("AADSTS7000215: bad secret"), "invalid_credentials"),
        (ServiceRequestTimeoutError("connect timed out"), "timeout"),
        (ServiceResponseTimeoutError("read timed out"), "timeout"),
        (
            ServiceRequestError("[SSL: CERTIFICATE_VERIFY_FAILED]"),
            "endpoint_unreachable",
        ),
        (ServiceRequestError("Connection refused"), "endpoint_unreachable"),
        (ServiceResponseError("Connection aborted"), "endpoint_unreachable"),
        (ResourceNotFoundError("not found"), "secret_not_found"),
        (DecodeError("bad JSON"), "service_error"),
        (
            ValueError(
                "The challenge resource 'x' does not match the requested domain"
            ),
            "service_error",
        ),
    ],
    ids=[
        "credential-unavailable",
        "authentication",
        "connect-timeout",
        "read-timeout",
        "tls",
        "refused",
        "dropped",
        "not-found",
        "decode",
        "challenge-resource",
    ],
)
def test_exception_mapped(exception: BaseException, code: str) -> None:
    error = map_azure_error(exception, CONTEXT)

    assert error.code == code
    assert "unexpected" not in error.message
    assert "https://kv1.vault.azure.net" in error.text
    assert error.__cause__ is None


@pytest.mark.parametrize(
    ("status", "inner", "code"),
    [
        (400, "", "invalid_reference"),
        (401, "", "invalid_credentials"),
        (403, "SecretDisabled", "secret_disabled"),
        (403, "SecretExpired", "secret_expired"),
        (403, "SecretNotYetValid", "secret_not_yet_valid"),
        (403, "ForbiddenByRbac", "access_denied"),
        (403, "AccessDenied", "access_denied"),
        (403, "ForbiddenByFirewall", "access_denied"),
        (404, "", "secret_not_found"),
        (429, "", "throttled"),
        (500, "", "service_error"),
        (503, "", "service_error"),
    ],
)
def test_status_mapped(status: int, inner: str, code: str) -> None:
    error = map_response_error(
        KeyVaultError(status, "Forbidden", inner, "msg"), CONTEXT
    )

    assert error.code == code


def test_disabled_told_by_message_alone() -> None:
    response = KeyVaultError(
        403, "Forbidden", "", "Operation get is not allowed on a disabled secret."
    )

    assert map_response_error(response, CONTEXT).code == "secret_disabled"


def test_every_http_error_class_mapped() -> None:
    # ODataV4Error cannot exist without a response, and Key Vault clients do not
    # raise it.
    classes = [
        cls
        for _, cls in inspect.getmembers(core_exceptions, inspect.isclass)
        if issubclass(cls, HttpResponseError)
        and cls is not core_exceptions.ODataV4Error
    ]

    for cls in classes:
        if cls is core_exceptions.TooManyRedirectsError:
            exception = cls(history=[])
        else:
            exception = cls(message="message")
        error = map_azure_error(exception, CONTEXT)
        assert "unexpected" not in error.message, cls.__name__


def test_unknown_error_is_service_error() -> None:
    error = map_azure_error(AzureError("something new"), CONTEXT)

    assert error.code == "service_error"
    assert "AzureError" in error.text

"""Every AWS error code and botocore exception Prizm knows maps to its Prizm code."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from prizm.providers.aws.errors import (
    INVALID_CREDENTIAL_CODES,
    THROTTLING_CODES,
    AwsErrorContext,
    map_aws_error,
    map_error_code,
)

CONTEXT = AwsErrorContext(
    integration="aws",
    location="region eu-west-1",
    operation="GetSecretValue",
    secret="prizm/db",
    kms_key_arn="arn:aws:kms:eu-west-1:111122223333:key/k",
    read_timeout=10.0,
)

CODES = [
    (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
        "secret_not_found",
    ),
    (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
        "version_not_found",
    ),
    (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for VersionId: x",
        "version_not_found",
    ),
    (
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
        "secret_scheduled_for_deletion",
    ),
    (
        "AccessDeniedException",
        "User: x is not authorized to perform: secretsmanager:GetSecretValue",
        "access_denied",
    ),
    ("AccessDeniedException", "Access to KMS is not allowed", "kms_access_denied"),
    (
        "DecryptionFailure",
        "Secrets Manager can't decrypt the protected secret text",
        "decryption_failed",
    ),
    ("KMSInvalidStateException", "key pending deletion", "decryption_failed"),
    ("ValidationException", "invalid name", "invalid_reference"),
    ("InternalServiceError", "boom", "service_error"),
    ("SomethingNew", "unknown", "service_error"),
]
CODES += [
    (code, "rejected", "invalid_credentials")
    for code in sorted(INVALID_CREDENTIAL_CODES)
]
CODES += [(code, "slow down", "throttled") for code in sorted(THROTTLING_CODES)]


@pytest.mark.parametrize(("aws_code", "message", "expected"), CODES)
def test_error_codes_mapped(aws_code: str, message: str, expected: str) -> None:
    error = map_error_code(aws_code, message, CONTEXT)

    assert error.code == expected
    assert "'aws'" in error.text
    assert "eu-west-1" in error.text
    assert error.hint


EXCEPTIONS = [
    (NoCredentialsError(), "invalid_credentials"),
    (
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        "invalid_credentials",
    ),
    (
        CredentialRetrievalError(provider="sts", error_msg="denied"),
        "invalid_credentials",
    ),
    (ConnectTimeoutError(endpoint_url="https://x"), "timeout"),
    (ReadTimeoutError(endpoint_url="https://x"), "timeout"),
    (EndpointConnectionError(endpoint_url="https://x"), "endpoint_unreachable"),
    (ProxyConnectionError(proxy_url="https://p"), "endpoint_unreachable"),
    (ConnectionClosedError(endpoint_url="https://x"), "endpoint_unreachable"),
    (SSLError(endpoint_url="https://x", error="bad"), "endpoint_unreachable"),
    (ParamValidationError(report="bad SecretId"), "invalid_reference"),
    (
        ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "x"},
                "ResponseMetadata": {"RetryAttempts": 2},
            },
            "GetSecretValue",
        ),
        "throttled",
    ),
    (RuntimeError("unexpected"), "service_error"),
]


@pytest.mark.parametrize(
    ("exception", "expected"),
    EXCEPTIONS,
    ids=[exception.__class__.__name__ for exception, _ in EXCEPTIONS],
)
def test_exceptions_mapped(exception: Exception, expected: str) -> None:
    error = map_aws_error(exception, CONTEXT)

    assert error.code == expected
    assert error.__cause__ is exception
    assert "'aws'" in error.text


def test_throttled_counts_attempts() -> None:
    exception = ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "x"},
            "ResponseMetadata": {"RetryAttempts": 2},
        },
        "GetSecretValue",
    )

    assert "after 3 attempts" in map_aws_error(exception, CONTEXT).text

"""Every AWS error code and botocore exception Prizm knows maps to its Prizm code."""

from __future__ import annotations

from dataclasses import replace

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
from botocore.parsers import ResponseParserError

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
ROLE = "arn:aws:iam::111122223333:role/prizm-reader"
ROLE_CONTEXT = replace(
    CONTEXT,
    role_arn=ROLE,
    external_id=True,
    sts_location="region eu-west-1, endpoint https://sts.example",
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
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/app is not authorized to perform: "
        "kms:Decrypt on resource: arn:aws:kms:eu-west-1:111122223333:key/k",
        "kms_access_denied",
    ),
    (
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/app is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:"
        "eu-west-1:111122223333:secret:prizm/kms-backup-AbCdEf",
        "access_denied",
    ),
    (
        "AccessDeniedException",
        "User: arn:aws:sts::111122223333:assumed-role/cmkadmin/s is not authorized "
        "to perform: secretsmanager:GetSecretValue on resource: prizm/db",
        "access_denied",
    ),
    (
        "DecryptionFailure",
        "Secrets Manager can't decrypt the protected secret text",
        "decryption_failed",
    ),
    ("KMSInvalidStateException", "key pending deletion", "decryption_failed"),
    ("ValidationException", "invalid name", "invalid_reference"),
    ("InternalServiceError", "boom", "service_error"),
    ("SomethingNew", "unknown", "service_error"),
    ("403", "Forbidden", "access_denied"),
    ("401", "Unauthorized", "access_denied"),
    ("500", "Internal Server Error", "service_error"),
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
    (NoCredentialsError(), "invalid_credentials", True),
    (
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        "invalid_credentials",
        True,
    ),
    (
        CredentialRetrievalError(provider="sts", error_msg="denied"),
        "invalid_credentials",
        True,
    ),
    (ConnectTimeoutError(endpoint_url="https://x"), "timeout", True),
    (ReadTimeoutError(endpoint_url="https://x"), "timeout", True),
    (EndpointConnectionError(endpoint_url="https://x"), "endpoint_unreachable", True),
    (ProxyConnectionError(proxy_url="https://p"), "endpoint_unreachable", True),
    (ConnectionClosedError(endpoint_url="https://x"), "endpoint_unreachable", True),
    (SSLError(endpoint_url="https://x", error="bad"), "endpoint_unreachable", True),
    (
        ParamValidationError(report="Invalid length for parameter SecretId"),
        "invalid_reference",
        False,
    ),
    (
        ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "x"},
                "ResponseMetadata": {"RetryAttempts": 2},
            },
            "GetSecretValue",
        ),
        "throttled",
        True,
    ),
    (
        ResponseParserError("Unable to parse response: <body>"),
        "service_error",
        False,
    ),
    (RuntimeError("unexpected"), "service_error", False),
]


@pytest.mark.parametrize(
    ("exception", "expected", "chained"),
    EXCEPTIONS,
    ids=[exception.__class__.__name__ for exception, _, _ in EXCEPTIONS],
)
def test_exceptions_mapped(exception: Exception, expected: str, chained: bool) -> None:
    error = map_aws_error(exception, CONTEXT)

    assert error.code == expected
    assert error.__cause__ is (exception if chained else None)
    assert error.__suppress_context__
    assert "'aws'" in error.text


def test_cause_loses_traceback() -> None:
    try:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "denied"}},
            "GetSecretValue",
        )
    except ClientError as exc:
        error = map_aws_error(exc, CONTEXT)

    assert error.__cause__ is not None
    assert error.__cause__.__traceback__ is None


def test_kms_in_names_not_kms_denial() -> None:
    context = replace(CONTEXT, secret="prizm/kms-backup", kms_key_arn=None)
    message = "Access denied for arn:aws:sts::111122223333:assumed-role/cmk/s"

    assert map_error_code("AccessDeniedException", message, context).code == (
        "access_denied"
    )


def test_assume_role_denied_inside_read() -> None:
    exception = ClientError(
        {
            "Error": {
                "Code": "AccessDenied",
                "Message": "User: arn:aws:iam::111122223333:user/app is not "
                f"authorized to perform: sts:AssumeRole on resource: {ROLE}",
            }
        },
        "AssumeRole",
    )

    error = map_aws_error(exception, ROLE_CONTEXT)

    assert error.code == "access_denied"
    assert f"could not assume role {ROLE}" in error.message
    assert (
        "in AWS STS (region eu-west-1, endpoint https://sts.example," in error.message
    )
    assert "GetSecretValue" not in error.text
    assert f"Allow sts:AssumeRole on {ROLE}" in error.hint
    assert "trust policy" in error.hint
    assert "External ID" in error.hint
    assert error.location == "region eu-west-1, endpoint https://sts.example"


def test_invalid_external_id_blames_setting() -> None:
    exception = ParamValidationError(
        report="Invalid length for parameter ExternalId, value: 1, valid min length: 2"
    )

    error = map_aws_error(exception, ROLE_CONTEXT)

    assert error.code == "invalid_integration"
    assert "AssumeRole parameter ExternalId" in error.message
    assert "in AWS STS" in error.message
    assert "secret name" not in error.text
    assert "prizm integration update aws aws --external-id ID" in error.hint


def test_other_parameter_names_operation() -> None:
    context = replace(CONTEXT, operation="ListSecrets", secret=None)
    exception = ParamValidationError(report="Invalid type for parameter MaxResults")

    error = map_aws_error(exception, context)

    assert "parameter MaxResults of ListSecrets" in error.message
    assert "secret name" not in error.text


def test_sts_operations_name_sts() -> None:
    context = replace(CONTEXT, operation="GetCallerIdentity", secret=None)

    timeout = map_aws_error(ReadTimeoutError(endpoint_url="https://x"), context)
    missing = map_aws_error(NoCredentialsError(), context)

    assert "in AWS STS (" in timeout.message
    assert "Secrets Manager" not in timeout.text
    assert "in AWS STS (" in missing.message
    assert "Secrets Manager" not in missing.text


def test_throttled_without_secret() -> None:
    context = replace(CONTEXT, operation="ListSecrets", secret=None)

    error = map_error_code("ThrottlingException", "Rate exceeded", context)

    assert error.message.startswith("AWS throttled ListSecrets in AWS Secrets Manager")
    assert "for the secret" not in error.message


def test_restore_hint_targets_region_and_endpoint() -> None:
    context = replace(CONTEXT, region="eu-west-1", endpoint_url="https://vpce.example")
    message = "You can't perform this operation on the secret because it was deleted."

    error = map_error_code("InvalidRequestException", message, context)

    assert error.hint is not None
    assert (
        "aws secretsmanager restore-secret --secret-id prizm/db --region eu-west-1 "
        "--endpoint-url https://vpce.example"
    ) in error.hint


def test_arn_not_found_hint() -> None:
    arn = "arn:aws:secretsmanager:ap-south-1:111122223333:secret:nothere"
    context = replace(
        CONTEXT, secret=arn, location="region ap-south-1", region="ap-south-1"
    )

    error = map_error_code(
        "ResourceNotFoundException", "Secrets Manager can't find it", context
    )

    assert error.hint is not None
    assert "needs its full ARN" not in error.hint
    assert f"describe-secret --secret-id {arn} --region ap-south-1" in error.hint


def test_throttled_counts_attempts() -> None:
    exception = ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "x"},
            "ResponseMetadata": {"RetryAttempts": 2},
        },
        "GetSecretValue",
    )

    assert "after 3 attempts" in map_aws_error(exception, CONTEXT).text

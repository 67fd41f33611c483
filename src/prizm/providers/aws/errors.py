"""Mapping of boto3 and AWS errors to Prizm errors, in one place.

AWS returns ``AccessDeniedException`` both when the caller may not read a secret and
when it may not use the secret's KMS key; only the message tells them apart, so the
message is checked for KMS wording. Messages of AWS errors never contain secret
values, so the original exception is kept as the cause.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from prizm.errors import (
    AccessDenied,
    DecryptionFailed,
    EndpointUnreachable,
    InvalidCredentials,
    InvalidReference,
    KmsAccessDenied,
    PrizmError,
    RequestTimeout,
    SecretNotFound,
    SecretScheduledForDeletion,
    ServiceError,
    Throttled,
    VersionNotFound,
)

__all__ = ["AwsErrorContext", "map_aws_error", "map_error_code"]

INVALID_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
    }
)
SERVICE_OF_OPERATION = {
    "GetCallerIdentity": "sts",
    "AssumeRole": "sts",
    "DescribeKey": "kms",
}
"""The IAM service prefix of each operation that is not Secrets Manager's."""

KMS_WORDS = ("kms", "key management service", "customer master key", "cmk")


@dataclass(frozen=True, slots=True)
class AwsErrorContext:
    """What a mapped error names: integration, location and the secret or step."""

    integration: str
    location: str
    operation: str
    secret: str | None = None
    version: str | None = None
    auth: str = "iam-role"
    kms_key_arn: str | None = None
    read_timeout: float | None = None
    attempts: int | None = None

    def where(self) -> str:
        return (
            f"in AWS Secrets Manager ({self.location}, "
            f"integration '{self.integration}')"
        )

    def fields(self) -> dict[str, str]:
        return {"integration": self.integration, "location": self.location}


def _credentials_hint(context: AwsErrorContext) -> str:
    if context.auth == "access-keys":
        return (
            "Enter a valid, active Access Key ID and Secret Access Key with: "
            f"prizm integration update aws {context.integration} "
            "--access-key-id ID --secret-access-key-stdin."
        )
    return (
        "Check the identity Prizm runs with: the environment variables, the web "
        "identity token (IRSA), the container credentials or the instance profile "
        "that the default AWS credential chain uses."
    )


def map_error_code(code: str, message: str, context: AwsErrorContext) -> PrizmError:
    """Map an AWS error code and message (from an exception or ``Errors[]``)."""
    secret = f"'{context.secret}'" if context.secret else "the secret"
    lowered = message.lower()

    if code == "ResourceNotFoundException":
        version_words = ("secret value for", "staging label", "versionid")
        if any(word in lowered for word in version_words):
            version = context.version or "such version"
            return VersionNotFound(
                f"Secret {secret} has no {version} {context.where()}.",
                hint="Name a version or stage that exists, or drop the option to read "
                "AWSCURRENT.",
                **context.fields(),
            )
        return SecretNotFound(
            f"Secret {secret} was not found {context.where()}.",
            hint="Check the secret name and the integration's region; a secret in "
            "another region needs its full ARN or its own integration.",
            **context.fields(),
        )
    if code == "InvalidRequestException" and (
        "deletion" in lowered or "deleted" in lowered
    ):
        return SecretScheduledForDeletion(
            f"Secret {secret} is scheduled for deletion {context.where()}.",
            hint="It can still be restored with: aws secretsmanager restore-secret "
            f"--secret-id {context.secret or '<name>'}, or point the reference at "
            "another secret.",
            **context.fields(),
        )
    if code in ("AccessDeniedException", "AccessDenied") and any(
        word in lowered for word in KMS_WORDS
    ):
        key = context.kms_key_arn or "the secret's KMS key"
        return KmsAccessDenied(
            f"The integration's identity may read secret {secret} but may not "
            f"decrypt it with its KMS key {context.where()}.",
            hint=f"Grant kms:Decrypt on {key} to the integration's role or user, in "
            "the key policy or an IAM policy.",
            **context.fields(),
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        service = SERVICE_OF_OPERATION.get(context.operation, "secretsmanager")
        target = f" on {secret}" if service == "secretsmanager" else ""
        where = "the secret" if service == "secretsmanager" else "it"
        policy = (
            ", in an IAM policy or the secret's resource policy"
            if service == "secretsmanager"
            else ", in an IAM policy"
        )
        return AccessDenied(
            f"The integration's identity may not call {context.operation}{target} "
            f"{context.where()}.",
            hint=f"Allow {service}:{context.operation} on {where} to the "
            f"integration's role or user{policy}.",
            **context.fields(),
        )
    if code in (
        "DecryptionFailure",
        "KMSInvalidStateException",
        "KMSDisabledException",
    ):
        return DecryptionFailed(
            f"AWS could not decrypt secret {secret} with its KMS key "
            f"{context.where()}.",
            hint="Check in AWS KMS that the secret's key is enabled, not pending "
            "deletion, and usable by Secrets Manager.",
            **context.fields(),
        )
    if code in INVALID_CREDENTIAL_CODES:
        return InvalidCredentials(
            f"AWS rejected the integration's credentials ({code}) {context.where()}.",
            hint=_credentials_hint(context),
            **context.fields(),
        )
    if code in THROTTLING_CODES:
        attempts = f" after {context.attempts} attempts" if context.attempts else ""
        return Throttled(
            f"AWS throttled {context.operation} for {secret}{attempts} "
            f"{context.where()}.",
            hint="Retry later, start fewer runs at once, or ask AWS for a higher "
            "request quota.",
            **context.fields(),
        )
    if code in ("ValidationException", "InvalidParameterException"):
        return InvalidReference(
            f"AWS rejected the secret name {secret} as invalid ({code}) "
            f"{context.where()}.",
            hint="Use the secret's name or full ARN as shown in the AWS console.",
            **context.fields(),
        )
    return ServiceError(
        f"AWS returned {code} for {context.operation} on {secret} {context.where()}.",
        hint="Retry; if it persists, check the AWS Health Dashboard for the region.",
        **context.fields(),
    )


def map_aws_error(exc: Exception, context: AwsErrorContext) -> PrizmError:
    """Map an exception raised by boto3 or botocore to a Prizm error."""
    mapped = _map(exc, context)
    mapped.__cause__ = exc
    return mapped


def _map(exc: Exception, context: AwsErrorContext) -> PrizmError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        metadata = exc.response.get("ResponseMetadata", {})
        retries = metadata.get("RetryAttempts")
        if retries is not None and context.attempts is None:
            context = replace(context, attempts=int(retries) + 1)
        return map_error_code(code, message, context)
    if isinstance(
        exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
    ):
        return InvalidCredentials(
            f"No usable AWS credentials were found ({exc.__class__.__name__}) "
            f"{context.where()}.",
            hint=_credentials_hint(context),
            **context.fields(),
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        limit = f" within {context.read_timeout:g} s" if context.read_timeout else ""
        return RequestTimeout(
            f"AWS did not answer {context.operation}{limit} {context.where()}.",
            hint="Check the network path to the endpoint, or raise the integration's "
            "timeouts.",
            **context.fields(),
        )
    if isinstance(exc, SSLError):
        return EndpointUnreachable(
            f"The TLS handshake with the AWS endpoint failed {context.where()}.",
            hint="Check the endpoint URL and the CA certificates (AWS_CA_BUNDLE).",
            **context.fields(),
        )
    if isinstance(
        exc, (EndpointConnectionError, ProxyConnectionError, BotoConnectionError)
    ):
        return EndpointUnreachable(
            f"Could not connect to the AWS endpoint {context.where()}.",
            hint="Check the region, the endpoint URL, and the network or proxy "
            "between Prizm and AWS.",
            **context.fields(),
        )
    if isinstance(exc, ParamValidationError):
        return InvalidReference(
            f"The secret name {context.secret!r} is not valid for AWS "
            f"{context.where()}.",
            hint="Use the secret's name or full ARN, at most 2048 characters.",
            **context.fields(),
        )
    if isinstance(exc, NoRegionError):
        return InvalidCredentials(
            f"No AWS Region is set {context.where()}.",
            hint="Set the integration's region.",
            **context.fields(),
        )
    if isinstance(exc, BotoCoreError):
        return EndpointUnreachable(
            f"The request to AWS failed ({exc.__class__.__name__}) {context.where()}.",
            hint="Check the endpoint URL and the network between Prizm and AWS.",
            **context.fields(),
        )
    return ServiceError(
        f"An unexpected {exc.__class__.__name__} occurred calling "
        f"{context.operation} {context.where()}.",
        hint="Retry; if it persists, report it with the Prizm version.",
        **context.fields(),
    )

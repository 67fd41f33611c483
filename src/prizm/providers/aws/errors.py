"""Mapping of boto3 and AWS errors to Prizm errors, in one place.

AWS returns ``AccessDeniedException`` both when the caller may not read a secret and
when it may not use the secret's KMS key; only the message tells them apart, so the
message is checked for the denied action and for KMS wording.

Messages of AWS errors and of botocore's network and credential errors never contain
secret values, so those exceptions are kept as the cause, without their traceback:
its frames hold request parameters and response bodies in their local variables.
Any other exception is not chained at all, because its message may quote them
(``ResponseParserError`` quotes the body, ``ParamValidationError`` the parameters).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
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
    InvalidIntegration,
    InvalidReference,
    KmsAccessDenied,
    PrizmError,
    RequestTimeout,
    SecretNotFound,
    SecretScheduledForDeletion,
    ServiceError,
    Throttled,
    VersionNotFound,
    drop_tracebacks,
)
from prizm.providers.aws.settings import parse_secret_arn

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

SERVICE_NAMES = {
    "secretsmanager": "AWS Secrets Manager",
    "sts": "AWS STS",
    "kms": "AWS KMS",
}

ASSUME_ROLE_PARAMETERS = frozenset(
    {"RoleArn", "RoleSessionName", "ExternalId", "DurationSeconds"}
)
SECRET_PARAMETERS = frozenset({"SecretId", "SecretIdList"})

DENIED_ACTION = re.compile(r"not authorized to perform:?\s*([A-Za-z0-9-]+):")
"""The IAM action an ``AccessDenied`` message names as denied: "...is not
authorized to perform: kms:Decrypt on resource: ..."."""

KMS_ACTION = re.compile(r"(?<![\w:])kms:[A-Z]")
"""A KMS action such as ``kms:Decrypt``; the lowercase region after ``kms:`` in a
key ARN (``arn:aws:kms:eu-west-1:...``) does not match."""

KMS_PHRASES = ("access to kms", "key management service", "customer master key")
"""Phrases of KMS denials. Each contains a space, which no ARN, secret name or
role name can contain (CreateSecret's and IAM's naming rules), so a name such as
``prizm/kms-backup`` never matches."""

PARAMETER_NAME = re.compile(r'parameter (?:in input: )?"?([A-Za-z0-9_]+)')
"""A parameter name in botocore's ``ParamValidationError`` report."""

CHAINED_EXCEPTIONS = (
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    ConnectTimeoutError,
    ReadTimeoutError,
    SSLError,
    EndpointConnectionError,
    ProxyConnectionError,
    BotoConnectionError,
    ConnectionClosedError,
    NoRegionError,
)
"""The exceptions whose messages never quote a request or a response."""


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
    region: str | None = None
    """The region the request went to, for the AWS CLI commands of hints."""
    endpoint_url: str | None = None
    """The endpoint the request went to, when it is not AWS's own."""
    role_arn: str | None = None
    external_id: bool = False
    """Whether AssumeRole sends an External ID."""
    sts_location: str | None = None
    """The location of STS requests, for an AssumeRole that fails inside another
    call."""

    @property
    def service(self) -> str:
        """The IAM service prefix of the operation: secretsmanager, sts or kms."""
        return SERVICE_OF_OPERATION.get(self.operation, "secretsmanager")

    def where(self) -> str:
        return (
            f"in {SERVICE_NAMES[self.service]} ({self.location}, "
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


def _secret_command(context: AwsErrorContext, command: str) -> str:
    """Return an AWS CLI command on the context's secret, aimed at its region and
    endpoint."""
    secret = shlex.quote(context.secret) if context.secret else "<name>"
    words = ["aws", "secretsmanager", command, "--secret-id", secret]
    if context.region:
        words += ["--region", context.region]
    if context.endpoint_url:
        words += ["--endpoint-url", shlex.quote(context.endpoint_url)]
    return " ".join(words)


def _not_found_hint(context: AwsErrorContext) -> str:
    if context.secret and parse_secret_arn(context.secret):
        return (
            "Check the region, account ID and secret name in the ARN; "
            f"{_secret_command(context, 'describe-secret')} shows whether the "
            "secret exists."
        )
    return (
        "Check the secret name and the integration's region; a secret in another "
        "region needs its full ARN or its own integration."
    )


def _is_kms_denial(message: str) -> bool:
    """Return whether an access-denied ``message`` is about the secret's KMS key.

    When the message names the denied action, only a ``kms:`` action counts, so a
    secret or role whose name contains "kms" or "cmk" never decides it.
    """
    denied = DENIED_ACTION.search(message)
    if denied is not None:
        return denied.group(1).lower() == "kms"
    lowered = message.lower()
    if KMS_ACTION.search(message):
        return True
    return any(phrase in lowered for phrase in KMS_PHRASES)


def _for_operation(context: AwsErrorContext, operation: str) -> AwsErrorContext:
    """Return the context of ``operation``, which failed inside the context's call.

    botocore assumes the integration's role (STS AssumeRole) inside the first call
    that needs credentials, so that call can fail with AssumeRole's error.
    """
    changed = replace(context, operation=operation)
    if changed.service == "sts" and context.sts_location:
        changed = replace(changed, location=context.sts_location)
    return changed


def _role_not_assumed(code: str, context: AwsErrorContext) -> AccessDenied:
    role = context.role_arn or "the integration's role"
    update = f"prizm integration update aws {context.integration} --external-id ID"
    if context.external_id:
        external = (
            f"expects the External ID that the integration sends (change it with: "
            f"{update})"
        )
    else:
        external = f"whether it requires an External ID (set one with: {update})"
    return AccessDenied(
        f"The integration's identity could not assume role {role} ({code}) "
        f"{context.where()}.",
        hint=f"Allow sts:AssumeRole on {role} to the integration's identity. "
        f"Check that the role's trust policy trusts that identity, and {external}.",
        **context.fields(),
    )


def map_error_code(code: str, message: str, context: AwsErrorContext) -> PrizmError:
    """Map an AWS error code and message (from an exception or ``Errors[]``)."""
    secret = f"'{context.secret}'" if context.secret else "the secret"
    for_secret = f" for {secret}" if context.secret else ""
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
            hint=_not_found_hint(context),
            **context.fields(),
        )
    if code == "InvalidRequestException" and (
        "deletion" in lowered or "deleted" in lowered
    ):
        return SecretScheduledForDeletion(
            f"Secret {secret} is scheduled for deletion {context.where()}.",
            hint="It can still be restored with: "
            f"{_secret_command(context, 'restore-secret')}, or point the reference "
            "at another secret.",
            **context.fields(),
        )
    access_denied = code in ("AccessDeniedException", "AccessDenied")
    if access_denied and context.operation == "AssumeRole":
        return _role_not_assumed(code, context)
    if access_denied and _is_kms_denial(message):
        key = context.kms_key_arn or "the secret's KMS key"
        return KmsAccessDenied(
            f"The integration's identity may read secret {secret} but may not "
            f"decrypt it with its KMS key {context.where()}.",
            hint=f"Grant kms:Decrypt on {key} to the integration's role or user, in "
            "the key policy or an IAM policy.",
            **context.fields(),
        )
    if access_denied:
        service = context.service
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
        attempts = context.attempts or 1
        after = f" after {attempts} attempts" if attempts > 1 else ""
        return Throttled(
            f"AWS throttled {context.operation}{for_secret}{after} {context.where()}.",
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
    if code in ("401", "403"):
        # A bare HTTP status without an AWS error code (a proxy, a VPC endpoint
        # policy or an emulator returned it) means refused, not an outage.
        return AccessDenied(
            f"AWS refused {context.operation}{for_secret} with HTTP {code} and no "
            f"error code {context.where()}.",
            hint="Check the integration's credentials (Test Connection's Credentials "
            "step calls STS) and that its identity may call "
            f"{context.service}:{context.operation}; a VPC endpoint policy or a "
            "proxy may refuse requests too.",
            **context.fields(),
        )
    return ServiceError(
        f"AWS returned {code} for {context.operation}{for_secret} {context.where()}.",
        hint="Retry; if it persists, check the AWS Health Dashboard for the region.",
        **context.fields(),
    )


def map_aws_error(exc: Exception, context: AwsErrorContext) -> PrizmError:
    """Map an exception raised by boto3 or botocore to a Prizm error.

    The exception loses its traceback, and is the cause only when its class is in
    ``CHAINED_EXCEPTIONS``, for the reason the module docstring gives. Callers that
    raise the result chain ``from result.__cause__``.
    """
    mapped = _map(exc, context)
    # Cleared on every exception, since a caller may still chain it (raise ... from).
    drop_tracebacks(exc)
    mapped.__cause__ = exc if isinstance(exc, CHAINED_EXCEPTIONS) else None
    mapped.__suppress_context__ = True
    return mapped


def _invalid_parameters(report: str, context: AwsErrorContext) -> PrizmError:
    """Map botocore's check of the parameters, which failed before any request.

    Only the parameter names of the report are shown, because it also quotes values.
    """
    names = sorted(set(PARAMETER_NAME.findall(report)))
    if ASSUME_ROLE_PARAMETERS.intersection(names):
        context = _for_operation(context, "AssumeRole")
        hint = (
            "Set an External ID of 2 to 1224 letters, digits and _+=,.@:/- with: "
            f"prizm integration update aws {context.integration} --external-id ID."
            if "ExternalId" in names
            else "Check the integration's Role ARN."
        )
        return InvalidIntegration(
            f"botocore rejected the AssumeRole parameter {', '.join(names)} of the "
            f"integration's role settings {context.where()}.",
            hint=hint,
            **context.fields(),
        )
    if SECRET_PARAMETERS.intersection(names) or (not names and context.secret):
        return InvalidReference(
            f"The secret name {context.secret!r} is not valid for AWS "
            f"{context.where()}.",
            hint="Use the secret's name or full ARN, at most 2048 characters.",
            **context.fields(),
        )
    shown = f"parameter {', '.join(names)}" if names else "parameters"
    return InvalidReference(
        f"botocore rejected the {shown} of {context.operation} {context.where()}.",
        hint="Check the reference and the integration's settings; if they are right, "
        "report it with the Prizm version.",
        **context.fields(),
    )


def _map(exc: Exception, context: AwsErrorContext) -> PrizmError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        metadata = exc.response.get("ResponseMetadata", {})
        retries = metadata.get("RetryAttempts")
        if retries is not None and context.attempts is None:
            context = replace(context, attempts=int(retries) + 1)
        if exc.operation_name and exc.operation_name != context.operation:
            context = _for_operation(context, exc.operation_name)
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
        return _invalid_parameters(str(exc.kwargs.get("report", "")), context)
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

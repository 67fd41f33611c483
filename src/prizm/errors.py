"""Typed errors with stable codes.

Every failure Prizm reports is a ``PrizmError`` subclass. The ``code`` is stable so
scripts can match on it, and the message is one plain sentence that names the
reference, the integration and where Prizm looked, followed by the next step. No
message ever contains a secret value, a payload or a credential.

    PrizmError
    ├── UsageError                      usage_error (exit status 2)
    │   ├── CommandNotFound             command_not_found (exit status 127)
    │   └── CommandNotExecutable        command_not_executable (exit status 126)
    ├── InvalidReference                invalid_reference
    ├── ReferenceNotAllowed             reference_not_allowed
    ├── IntegrationError
    │   ├── UnknownIntegration          unknown_integration
    │   ├── IntegrationExists           integration_exists
    │   ├── IntegrationInUse            integration_in_use
    │   └── InvalidIntegration          invalid_integration
    ├── SecretUnavailable
    │   ├── SecretNotFound              secret_not_found
    │   ├── VersionNotFound             version_not_found
    │   ├── SecretScheduledForDeletion  secret_scheduled_for_deletion
    │   ├── SecretDeleted               secret_deleted
    │   ├── SecretDisabled              secret_disabled
    │   ├── SecretNotYetValid           secret_not_yet_valid
    │   ├── SecretExpired               secret_expired
    │   └── InconsistentVersions        inconsistent_versions
    ├── AccessProblem
    │   ├── AccessDenied                access_denied
    │   ├── KmsAccessDenied             kms_access_denied
    │   ├── DecryptionFailed            decryption_failed
    │   ├── InvalidCredentials          invalid_credentials
    │   ├── TokenExpired                token_expired
    │   └── LoginFailed                 login_failed
    ├── ServiceUnavailable
    │   ├── Throttled                   throttled
    │   ├── EndpointUnreachable         endpoint_unreachable
    │   ├── RequestTimeout              timeout
    │   ├── VaultSealed                 vault_sealed
    │   └── ServiceError                service_error
    ├── ValueProblem
    │   ├── NotJson                     not_json
    │   ├── KeyNotFound                 key_not_found
    │   ├── NullValue                   null_value
    │   ├── EmptyValue                  empty_value
    │   ├── BinaryNotText               binary_not_text
    │   └── ValueTooLarge               value_too_large
    ├── StoreError                      store_error
    │   └── CredentialsUnreadable       credentials_unreadable
    ├── ConnectorError
    │   ├── UnknownConnector            unknown_connector
    │   ├── ConnectorExists             connector_exists
    │   ├── InvalidField                invalid_field
    │   ├── ConnectionFailed            connection_failed
    │   ├── AuthenticationFailed        authentication_failed
    │   ├── JobFailed                   job_failed
    │   └── InvalidSchedule             invalid_schedule
    ├── RunNotFound                     run_not_found
    ├── WorkerLost                      worker_lost
    ├── BrokerUnavailable               broker_unavailable
    ├── RotationError                   rotation_failed
    │   ├── InvalidRotationRequest      invalid_rotation_request
    │   ├── InvalidDatabaseSecret       invalid_database_secret
    │   └── DatabaseLoginFailed         database_login_failed
    ├── AuthError
    │   ├── NotAuthenticated            not_authenticated
    │   ├── InvalidLogin                invalid_login
    │   ├── PermissionDenied            permission_denied
    │   ├── CsrfFailed                  csrf_failed
    │   └── TooManyAttempts             too_many_attempts
    └── UserError
        ├── UnknownUser                 unknown_user
        ├── UserExists                  user_exists
        ├── InvalidUser                 invalid_user
        ├── UnknownToken                unknown_token
        └── TokenExists                 token_exists

A ``RotationError`` names the rotation step that failed (``createSecret``,
``setSecret``, ``testSecret`` or ``finishSecret``) in its message and in ``step``.
An AWS error during a step keeps its own code (``access_denied``, ``throttled``...)
and names the step in its message.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

__all__ = [
    "CODES",
    "AccessDenied",
    "AccessProblem",
    "AuthError",
    "AuthenticationFailed",
    "BinaryNotText",
    "BrokerUnavailable",
    "CommandNotExecutable",
    "CommandNotFound",
    "ConnectionFailed",
    "ConnectorError",
    "ConnectorExists",
    "CredentialsUnreadable",
    "CsrfFailed",
    "DatabaseLoginFailed",
    "DecryptionFailed",
    "EmptyValue",
    "EndpointUnreachable",
    "InconsistentVersions",
    "IntegrationError",
    "IntegrationExists",
    "IntegrationInUse",
    "InvalidCredentials",
    "InvalidDatabaseSecret",
    "InvalidField",
    "InvalidIntegration",
    "InvalidLogin",
    "InvalidReference",
    "InvalidRotationRequest",
    "InvalidSchedule",
    "InvalidUser",
    "JobFailed",
    "KeyNotFound",
    "KmsAccessDenied",
    "LoginFailed",
    "NotAuthenticated",
    "NotJson",
    "NullValue",
    "PermissionDenied",
    "PrizmError",
    "ReferenceNotAllowed",
    "RequestTimeout",
    "RotationError",
    "RunNotFound",
    "SecretDeleted",
    "SecretDisabled",
    "SecretExpired",
    "SecretNotFound",
    "SecretNotYetValid",
    "SecretScheduledForDeletion",
    "SecretUnavailable",
    "ServiceError",
    "ServiceUnavailable",
    "StoreError",
    "Throttled",
    "TokenExists",
    "TokenExpired",
    "TooManyAttempts",
    "UnknownConnector",
    "UnknownIntegration",
    "UnknownToken",
    "UnknownUser",
    "UsageError",
    "UserError",
    "UserExists",
    "ValueProblem",
    "ValueTooLarge",
    "VaultSealed",
    "VersionNotFound",
    "WorkerLost",
    "drop_tracebacks",
]


ExceptionT = TypeVar("ExceptionT", bound=BaseException)


def sentence(text: str) -> str:
    """Return ``text`` ending in punctuation, so another sentence can follow it.

    Driver messages often end without a full stop.
    """
    stripped = text.rstrip()
    if not stripped or stripped[-1] in ".!?":
        return stripped
    return stripped + "."


def drop_tracebacks(error: ExceptionT) -> ExceptionT:
    """Clear the traceback of ``error`` and of every exception chained to it.

    The frames of a traceback keep their local variables, such as a fetched secret
    document, and renderers like ``TracebackException(capture_locals=True)`` print
    them. Errors that outlive the code that raised them drop their frames.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]
    return error


class PrizmError(Exception):
    """Base of every error Prizm raises on purpose.

    ``message`` says what failed and where, ``hint`` says what to do next. Both are
    written for the person running Prizm and never contain a secret value.
    """

    code: ClassVar[str] = "error"
    exit_status: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        reference: str | None = None,
        integration: str | None = None,
        location: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.reference = reference
        self.integration = integration
        self.location = location
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """The message followed by the hint, as one line."""
        if self.hint:
            return f"{sentence(self.message)} {self.hint}"
        return self.message

    def for_reference(self, reference: str) -> PrizmError:
        """Return a copy of this error whose message starts with the reference.

        Providers describe a failure per secret; a secret may serve several
        references, so the resolver adds the reference when it hands errors out.
        """
        message = self.message
        if message[:1].isupper() and message[1:2].islower():
            message = message[0].lower() + message[1:]
        copy = self.reworded(f"Cannot resolve {reference}: {message}")
        copy.reference = reference
        return copy

    def reworded(self, message: str) -> PrizmError:
        """Return a copy of this error, of the same class, with another message."""
        copy = type(self)(
            message,
            hint=self.hint,
            reference=self.reference,
            integration=self.integration,
            location=self.location,
        )
        copy.__cause__ = self.__cause__
        copy.__suppress_context__ = True
        return copy

    def to_dict(self) -> dict[str, Any]:
        """Render the error as the ``{"code", "message", ...}`` object of JSON."""
        data: dict[str, Any] = {"code": self.code, "message": self.text}
        for name in ("reference", "integration", "location"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


class UsageError(PrizmError):
    """Raised when a command is called with options that do not fit together."""

    code = "usage_error"
    exit_status = 2
    http_status = 422


class CommandNotFound(UsageError):
    """Raised when ``prizm exec`` cannot find the command; exit status 127 as a
    shell gives."""

    code = "command_not_found"
    exit_status = 127


class CommandNotExecutable(UsageError):
    """Raised when ``prizm exec`` may not run the command; exit status 126."""

    code = "command_not_executable"
    exit_status = 126


class InvalidReference(PrizmError):
    """Raised when a ``vault://`` reference does not follow the grammar."""

    code = "invalid_reference"
    http_status = 422


class ReferenceNotAllowed(PrizmError):
    """Raised when a reference names a secret outside the integration's allowed list."""

    code = "reference_not_allowed"
    http_status = 403


class IntegrationError(PrizmError):
    """Base of errors about configured integrations."""

    code = "integration_error"
    http_status = 422


class UnknownIntegration(IntegrationError):
    """Raised when no integration has the given name."""

    code = "unknown_integration"
    http_status = 404


class IntegrationExists(IntegrationError):
    """Raised when adding an integration under a name that is taken."""

    code = "integration_exists"
    http_status = 409


class IntegrationInUse(IntegrationError):
    """Raised when removing an integration that connectors still reference."""

    code = "integration_in_use"
    http_status = 409


class InvalidIntegration(IntegrationError):
    """Raised when an integration's settings are missing or invalid."""

    code = "invalid_integration"


class SecretUnavailable(PrizmError):
    """Base of errors where the vault has no readable secret at the reference."""

    code = "secret_unavailable"
    http_status = 404


class SecretNotFound(SecretUnavailable):
    """Raised when the vault has no secret under the name or path."""

    code = "secret_not_found"


class VersionNotFound(SecretUnavailable):
    """Raised when the secret exists but the requested version or stage does not."""

    code = "version_not_found"


class SecretScheduledForDeletion(SecretUnavailable):
    """Raised when an AWS secret is marked for deletion and can still be restored."""

    code = "secret_scheduled_for_deletion"
    http_status = 409


class SecretDeleted(SecretUnavailable):
    """Raised when the secret or the requested version is deleted or destroyed."""

    code = "secret_deleted"
    http_status = 410


class SecretDisabled(SecretUnavailable):
    """Raised when the secret exists but is disabled (Azure Key Vault)."""

    code = "secret_disabled"
    http_status = 409


class SecretNotYetValid(SecretUnavailable):
    """Raised when the secret's activation date (``nbf``) is in the future."""

    code = "secret_not_yet_valid"
    http_status = 409


class SecretExpired(SecretUnavailable):
    """Raised when the secret's expiry date (``exp``) has passed."""

    code = "secret_expired"
    http_status = 409


class InconsistentVersions(SecretUnavailable):
    """Raised when references to one secret got different versions in one read,
    because the secret changed between reads that could not be pinned to one version.
    """

    code = "inconsistent_versions"
    http_status = 409


class AccessProblem(PrizmError):
    """Base of errors about identity, permissions and encryption keys."""

    code = "access_problem"
    http_status = 403


class AccessDenied(AccessProblem):
    """Raised when the integration's identity may not read the secret."""

    code = "access_denied"


class KmsAccessDenied(AccessProblem):
    """Raised when the identity may read the secret but not use its KMS key."""

    code = "kms_access_denied"


class DecryptionFailed(AccessProblem):
    """Raised when the vault could not decrypt the secret with its key."""

    code = "decryption_failed"


class InvalidCredentials(AccessProblem):
    """Raised when the integration's credentials are missing, invalid or expired."""

    code = "invalid_credentials"
    http_status = 401


class TokenExpired(AccessProblem):
    """Raised when a static Vault token has expired or been revoked."""

    code = "token_expired"
    http_status = 401


class LoginFailed(AccessProblem):
    """Raised when logging in to Vault with the configured auth method fails."""

    code = "login_failed"
    http_status = 401


class ServiceUnavailable(PrizmError):
    """Base of errors where the vault could not serve the request right now."""

    code = "service_unavailable"
    http_status = 503


class Throttled(ServiceUnavailable):
    """Raised when the vault still throttles the request after the SDK's retries."""

    code = "throttled"
    http_status = 429


class EndpointUnreachable(ServiceUnavailable):
    """Raised when no connection to the vault endpoint could be made."""

    code = "endpoint_unreachable"
    http_status = 502


class RequestTimeout(ServiceUnavailable):
    """Raised when the vault did not answer within the configured timeout."""

    code = "timeout"
    http_status = 504


class VaultSealed(ServiceUnavailable):
    """Raised when HashiCorp Vault or OpenBao is sealed."""

    code = "vault_sealed"


class ServiceError(ServiceUnavailable):
    """Raised when the vault reports an internal error or an unexpected response."""

    code = "service_error"
    http_status = 502


class ValueProblem(PrizmError):
    """Base of errors where the fetched secret does not give a usable value."""

    code = "value_problem"
    http_status = 422


class NotJson(ValueProblem):
    """Raised when a ``#key`` is given but the secret is not a JSON object."""

    code = "not_json"


class KeyNotFound(ValueProblem):
    """Raised when the secret's JSON has no value at the ``#key``."""

    code = "key_not_found"


class NullValue(ValueProblem):
    """Raised when the value at the ``#key`` is JSON ``null``."""

    code = "null_value"


class EmptyValue(ValueProblem):
    """Raised when the secret or the value at the ``#key`` is an empty string."""

    code = "empty_value"


class BinaryNotText(ValueProblem):
    """Raised when a binary secret is not valid UTF-8 text."""

    code = "binary_not_text"


class ValueTooLarge(ValueProblem):
    """Raised when a secret or an input is larger than Prizm accepts."""

    code = "value_too_large"


class StoreError(PrizmError):
    """Raised when the store cannot be opened, migrated or written."""

    code = "store_error"


class CredentialsUnreadable(StoreError):
    """Raised when stored credentials cannot be decrypted with the master key."""

    code = "credentials_unreadable"


class ConnectorError(PrizmError):
    """Base of errors about connectors and their jobs."""

    code = "connector_error"
    http_status = 422


class UnknownConnector(ConnectorError):
    """Raised when no connector has the given name."""

    code = "unknown_connector"
    http_status = 404


class ConnectorExists(ConnectorError):
    """Raised when adding a connector under a name that is taken."""

    code = "connector_exists"
    http_status = 409


class InvalidField(ConnectorError):
    """Raised when a connector field is missing, unknown or has an invalid value."""

    code = "invalid_field"


class ConnectionFailed(ConnectorError):
    """Raised when the connector could not reach or talk to its system."""

    code = "connection_failed"
    http_status = 502


class AuthenticationFailed(ConnectorError):
    """Raised when the connector's system rejected the resolved credentials."""

    code = "authentication_failed"
    http_status = 502


class JobFailed(ConnectorError):
    """Raised when the connector connected but its job failed."""

    code = "job_failed"
    http_status = 502


class InvalidSchedule(ConnectorError):
    """Raised when a cron expression or its time zone is invalid."""

    code = "invalid_schedule"


class RunNotFound(PrizmError):
    """Raised when no run has the given id."""

    code = "run_not_found"
    http_status = 404


class RotationError(PrizmError):
    """Raised when a step of a database secret rotation fails.

    ``step`` is the Secrets Manager step name, or None when the failure came before
    any step ran.
    """

    code = "rotation_failed"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        hint: str | None = None,
        reference: str | None = None,
        integration: str | None = None,
        location: str | None = None,
    ) -> None:
        self.step = step
        super().__init__(
            message,
            hint=hint,
            reference=reference,
            integration=integration,
            location=location,
        )

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.step is not None:
            data["step"] = self.step
        return data


class InvalidRotationRequest(RotationError):
    """Raised when a rotation event, option or setting is invalid for the secret."""

    code = "invalid_rotation_request"
    http_status = 422


class InvalidDatabaseSecret(RotationError):
    """Raised when a secret is not the JSON document of database credentials."""

    code = "invalid_database_secret"
    http_status = 422


class DatabaseLoginFailed(RotationError):
    """Raised when the database rejects the user name and password of a secret."""

    code = "database_login_failed"


class WorkerLost(PrizmError):
    """Raised when the worker running a queued run stopped before it finished."""

    code = "worker_lost"
    http_status = 503


class BrokerUnavailable(PrizmError):
    """Raised when a run cannot be sent to the message broker."""

    code = "broker_unavailable"
    http_status = 503


class AuthError(PrizmError):
    """Base of errors about signing in to the web console and the API."""

    code = "auth_error"
    http_status = 401


class NotAuthenticated(AuthError):
    """Raised when a request carries no valid session or API token."""

    code = "not_authenticated"


class InvalidLogin(AuthError):
    """Raised when a user name and password do not match a user."""

    code = "invalid_login"


class PermissionDenied(AuthError):
    """Raised when the signed-in user's role does not allow the request."""

    code = "permission_denied"
    http_status = 403


class CsrfFailed(AuthError):
    """Raised when a form or request lacks the session's CSRF token."""

    code = "csrf_failed"
    http_status = 403


class TooManyAttempts(AuthError):
    """Raised when sign-in is locked for a while after repeated failures.

    ``retry_after`` is the number of seconds until the next attempt is allowed.
    """

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int = 60, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def reworded(self, message: str) -> PrizmError:
        copy = super().reworded(message)
        assert isinstance(copy, TooManyAttempts)
        copy.retry_after = self.retry_after
        return copy


class UserError(PrizmError):
    """Base of errors about users of the web console and their API tokens."""

    code = "user_error"
    http_status = 422


class UnknownUser(UserError):
    """Raised when no user has the given name."""

    code = "unknown_user"
    http_status = 404


class UserExists(UserError):
    """Raised when adding a user under a name that is taken."""

    code = "user_exists"
    http_status = 409


class InvalidUser(UserError):
    """Raised when a user name, role or password is not acceptable."""

    code = "invalid_user"


class UnknownToken(UserError):
    """Raised when no API token has the given name."""

    code = "unknown_token"
    http_status = 404


class TokenExists(UserError):
    """Raised when creating an API token under a name that is taken."""

    code = "token_exists"
    http_status = 409


def _collect_codes() -> dict[str, type[PrizmError]]:
    codes: dict[str, type[PrizmError]] = {}
    pending: list[type[PrizmError]] = [PrizmError]
    while pending:
        cls = pending.pop()
        codes[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return codes


CODES: dict[str, type[PrizmError]] = _collect_codes()
"""Every stable error code, mapped to its class."""

"""Mapping of hvac and requests exceptions to Prizm errors, in one place.

No mapped error keeps its cause or context. A requests exception contains the
prepared request, whose headers carry the token and whose body carries a login's
secret ID or password. An hvac exception contains the whole response text. So every
error returned here has ``__cause__`` and ``__context__`` cleared on purpose, and
messages quote only Vault's short ``errors`` strings, scrubbed of registered secrets.

Vault returns 403 both for a token that is no longer valid and for a missing policy.
The provider tells them apart with a token lookup before an error reaches this
module, so an invalid static token arrives as ``TokenRejected`` and a failed login as
``LoginFailure``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hvac.exceptions
import requests.exceptions

from prizm import redaction
from prizm.errors import (
    AccessDenied,
    EndpointUnreachable,
    InvalidIntegration,
    InvalidReference,
    LoginFailed,
    PrizmError,
    RequestTimeout,
    SecretDeleted,
    SecretNotFound,
    ServiceError,
    Throttled,
    TokenExpired,
    VaultSealed,
    VersionNotFound,
)

__all__ = [
    "LoginFailure",
    "TokenRejected",
    "VaultErrorContext",
    "map_vault_error",
    "vault_messages",
]

MAX_MESSAGE_LENGTH = 200


class LoginFailure(Exception):
    """Raised by the token manager when a login fails. ``original`` is the reason."""

    def __init__(self, original: BaseException | str) -> None:
        super().__init__("login failed")
        self.original = original


class TokenRejected(Exception):
    """Raised when Vault rejects a static token that cannot be replaced by a login."""


@dataclass(frozen=True, slots=True)
class VaultErrorContext:
    """The integration, address, namespace and request that a mapped error names."""

    integration: str
    address: str
    namespace: str | None
    operation: str
    path: str | None = None
    api_path: str | None = None
    version: str | None = None
    auth: str = "token"
    auth_mount: str | None = None
    auth_namespace: str | None = None
    timeout: float | None = None
    attempts: int | None = None

    def location(self) -> str:
        text = f"address {self.address}"
        if self.namespace:
            text += f", namespace {self.namespace}"
        return text

    def where(self) -> str:
        return f"in Vault ({self.location()}, integration '{self.integration}')"

    def fields(self) -> dict[str, str]:
        return {"integration": self.integration, "location": self.location()}

    def secret(self) -> str:
        if self.path is None:
            return "the request"
        if self.version is not None:
            return f"secret '{self.path}' version {self.version}"
        return f"secret '{self.path}'"

    def request(self) -> str:
        """Name the operation and its secret: "read of secret 'secret/app'"."""
        if self.path is None:
            return self.operation
        return f"{self.operation} of {self.secret()}"

    def update_command(self) -> str:
        return f"prizm integration update hashicorp {self.integration}"


def vault_messages(exc: BaseException) -> str:
    """Return Vault's ``errors`` strings of an hvac exception, short and scrubbed."""
    errors = getattr(exc, "errors", None)
    if not errors:
        return ""
    if isinstance(errors, str):
        errors = [errors]
    # Mask before collapsing whitespace or cutting, which could change a value.
    text = "; ".join(" ".join(redaction.scrub(str(item)).split()) for item in errors)
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[:MAX_MESSAGE_LENGTH] + "..."
    return text


def map_vault_error(exc: BaseException, context: VaultErrorContext) -> PrizmError:
    """Map an exception raised while talking to Vault to a Prizm error.

    The result never chains ``exc``, for the reason the module docstring gives.
    """
    mapped = _map(exc, context)
    mapped.__cause__ = None
    mapped.__context__ = None
    mapped.__suppress_context__ = True
    return mapped


def _map(exc: BaseException, context: VaultErrorContext) -> PrizmError:
    if isinstance(exc, LoginFailure):
        return _login_failed(exc.original, context)
    if isinstance(exc, TokenRejected):
        return TokenExpired(
            f"The integration's static token was rejected {context.where()}, and "
            "it could not look itself up: it has expired or been revoked, or it "
            "lacks the default policy, which allows auth/token/lookup-self.",
            hint="Supply a new token with: "
            f"{context.update_command()} --token-stdin, or switch to a method that "
            "logs in again on its own (approle, kubernetes or userpass). If the "
            "token is still valid, attach the default policy to it.",
            **context.fields(),
        )
    if isinstance(exc, hvac.exceptions.VaultError):
        return _map_status(exc, context)
    transport = _map_transport(exc, context)
    if transport is not None:
        return transport
    return ServiceError(
        f"An unexpected {exc.__class__.__name__} occurred during "
        f"{context.operation} {context.where()}.",
        hint="Retry; if it persists, report it with the Prizm version.",
        **context.fields(),
    )


def _map_transport(exc: BaseException, context: VaultErrorContext) -> PrizmError | None:
    """Map connection, TLS and timeout failures, and return None for the rest."""
    if isinstance(exc, requests.exceptions.SSLError):
        return EndpointUnreachable(
            f"The TLS handshake with Vault failed during {context.operation} "
            f"{context.where()}.",
            hint="Check that the address uses the server's TLS name, and give the CA "
            f"that signed its certificate with: {context.update_command()} --ca-cert "
            "FILE.",
            **context.fields(),
        )
    if isinstance(exc, requests.exceptions.Timeout):
        limit = f" within {context.timeout:g} s" if context.timeout else ""
        return RequestTimeout(
            f"The server did not answer the {context.request()}{limit} "
            f"{context.where()}.",
            hint="Check the network path to the address and the server's health, or "
            f"raise the timeout with: {context.update_command()} --timeout SECONDS.",
            **context.fields(),
        )
    if isinstance(
        exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)
    ):
        return InvalidIntegration(
            f"The Vault address is not a valid URL {context.where()}.",
            hint=f"Set it with: {context.update_command()} --address URL.",
            **context.fields(),
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return EndpointUnreachable(
            f"Could not connect to Vault during {context.operation} {context.where()}.",
            hint="Check the address and port, that the server runs, and the network "
            "or proxy between Prizm and Vault.",
            **context.fields(),
        )
    if isinstance(exc, OSError):
        # requests raises a plain OSError when a CA bundle or client certificate
        # file cannot be loaded.
        return InvalidIntegration(
            "A TLS file of the integration could not be loaded "
            f"({exc.strerror or 'invalid file'}) {context.where()}.",
            hint="Check the CA certificate, client certificate and key paths with: "
            f"prizm integration show {context.integration}.",
            **context.fields(),
        )
    return None


def _map_status(
    exc: hvac.exceptions.VaultError, context: VaultErrorContext
) -> PrizmError:
    vault_message = vault_messages(exc)
    vault_text = f" (Vault: {vault_message})" if vault_message else ""
    if isinstance(exc, hvac.exceptions.VaultDown):
        if "sealed" in vault_message.lower():
            return VaultSealed(
                f"The server is sealed {context.where()}.",
                hint="Ask an operator to unseal it (bao operator unseal or vault "
                "operator unseal); reads work again once it is unsealed.",
                **context.fields(),
            )
        return ServiceError(
            f"The server is unavailable (503){vault_text} {context.where()}.",
            hint="Retry later; check the server's health with: bao status.",
            **context.fields(),
        )
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        attempts = f" after {context.attempts} attempts" if context.attempts else ""
        return Throttled(
            f"The {context.request()} was throttled{attempts} "
            f"(429, a rate limit quota) {context.where()}.",
            hint="Retry later, start fewer runs at once, or ask the Vault operator to "
            "raise the rate limit quota.",
            **context.fields(),
        )
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return _not_found(exc, context, vault_message)
    if isinstance(exc, (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized)):
        return _access_denied(context)
    if isinstance(exc, hvac.exceptions.ParamValidationError):
        return InvalidReference(
            f"hvac rejected the parameters of {context.operation} for "
            f"{context.secret()} {context.where()}.",
            hint="Check the secret path and version of the reference.",
            **context.fields(),
        )
    status = {
        hvac.exceptions.InvalidRequest: "400",
        hvac.exceptions.PreconditionFailed: "412",
        hvac.exceptions.InternalServerError: "500",
        hvac.exceptions.VaultNotInitialized: "501, not initialized",
        hvac.exceptions.BadGateway: "502",
        hvac.exceptions.UnsupportedOperation: "an unsupported operation error",
        hvac.exceptions.UnexpectedError: "an unexpected status",
    }.get(type(exc), "an error")
    return ServiceError(
        f"The server returned {status} for the {context.request()}"
        f"{vault_text} {context.where()}.",
        hint="Retry; if it persists, check the Vault server's logs.",
        **context.fields(),
    )


def _metadata(exc: hvac.exceptions.VaultError) -> dict[str, Any] | None:
    """Return the KV v2 version metadata that a 404 of a deleted version carries."""
    body = exc.json
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    metadata = data.get("metadata")
    return metadata if isinstance(metadata, dict) else None


def _not_found(
    exc: hvac.exceptions.VaultError, context: VaultErrorContext, vault_message: str
) -> PrizmError:
    if "namespace not found" in vault_message.lower():
        message = f"The namespace '{context.namespace}' was not found {context.where()}"
        if context.path is not None:
            message += f", so {context.secret()} cannot be read"
        return SecretNotFound(
            f"{message}.",
            hint="Check the namespace with: prizm integration show "
            f"{context.integration}; a token from a login in another namespace also "
            "needs a policy there.",
            **context.fields(),
        )
    metadata = _metadata(exc)
    if metadata is not None and (
        metadata.get("destroyed") or metadata.get("deletion_time")
    ):
        version = metadata.get("version")
        if metadata.get("destroyed"):
            state = "destroyed"
            fix = "A destroyed version cannot be recovered: write a new version, or "
            fix += "pin the reference to another one with ?version=N."
        else:
            state = f"deleted at {metadata.get('deletion_time')}"
            fix = f"Undelete it with: bao kv undelete -versions={version} "
            fix += f"{context.path}, or write a new version."
        return SecretDeleted(
            f"Version {version} of secret '{context.path}' is {state} "
            f"{context.where()}.",
            hint=fix,
            **context.fields(),
        )
    policy = f" (read on {context.api_path})" if context.api_path else ""
    if context.version is not None:
        return VersionNotFound(
            f"Version {context.version} of secret '{context.path}' was not found "
            f"{context.where()}. The version does not exist, or the secret does not.",
            hint="List the versions with: bao kv metadata get "
            f"{context.path}; Vault also returns 404 when a policy{policy} is missing.",
            **context.fields(),
        )
    return SecretNotFound(
        f"Secret '{context.path}' was not found {context.where()}. Vault returned "
        "404, which means that no secret exists at that path or that the token's "
        "policies hide it, because Vault returns 404 for some permission problems.",
        hint=f"Check the path and the namespace, and that the token's policy allows "
        f"read{policy}.",
        **context.fields(),
    )


def _access_denied(context: VaultErrorContext) -> PrizmError:
    if context.api_path:
        rule = f'path "{context.api_path}" {{ capabilities = ["read"] }}'
        hint = (
            f"Add a policy with {rule} to the token or to the {context.auth} role, "
            "in the namespace of the secrets."
        )
    else:
        hint = "Check the policies of the token or the role in Vault."
    target = "" if context.path is None else f" on {context.secret()}"
    return AccessDenied(
        f"The token may not perform {context.operation}{target} "
        f"{context.where()} (403 permission denied).",
        hint=hint,
        **context.fields(),
    )


def _login_failed(
    original: BaseException | str, context: VaultErrorContext
) -> PrizmError:
    if isinstance(original, BaseException):
        transport = _map_transport(original, context)
        if transport is not None:
            return transport
        if isinstance(
            original, (hvac.exceptions.VaultDown, hvac.exceptions.RateLimitExceeded)
        ):
            return _map_status(original, context)
        reason = vault_messages(original) or original.__class__.__name__
        failure = f"failed (Vault: {reason}) {context.where()}"
    else:
        # A text reason is Prizm's own, such as an unreadable JWT file, so it is
        # not labelled as Vault's.
        failure = f"failed {context.where()}: {original}"
    namespace = context.auth_namespace or context.namespace or "root"
    return LoginFailed(
        f"Login with {context.auth} at auth/{context.auth_mount} in namespace "
        f"{namespace} {failure}.",
        hint=_login_hint(context),
        **context.fields(),
    )


def _login_hint(context: VaultErrorContext) -> str:
    command = context.update_command()
    if context.auth == "approle":
        return (
            "Check the role ID and secret ID (a secret ID may have expired or hit its "
            f"use limit), then update them with: {command} --role-id ID "
            "--secret-id-stdin. Check --auth-mount and --auth-namespace too."
        )
    if context.auth == "userpass":
        return (
            "Check the username and password with: "
            f"{command} --username NAME --password-stdin. Check --auth-mount and "
            "--auth-namespace too."
        )
    return (
        "Check the Kubernetes role and that it binds this service account, the JWT "
        "file path, and the Kubernetes auth configuration in Vault; check "
        "--auth-mount and --auth-namespace too."
    )

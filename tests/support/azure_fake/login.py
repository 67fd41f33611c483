"""A fake Microsoft Entra ID token endpoint and App Service managed identity endpoint.

Entra ID (what MSAL calls for client-secret and client-certificate sign-in):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: OpenID metadata, whose
  ``token_endpoint`` MSAL then uses.
* ``POST /{tenant}/oauth2/v2.0/token``: the client credentials grant, with
  ``client_secret``, a ``client_assertion`` JWT signed with a registered
  certificate, or a trusted federated token. Errors carry AADSTS codes as the real
  service does.

Managed identity, App Service style (``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``):

* ``GET /msi/token?api-version=2019-08-01&resource=...[&client_id=...]`` with the
  ``X-IDENTITY-HEADER`` header.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.azure_fake.server import Request, Response, json_response

__all__ = ["FakeLogin", "Token"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_SECONDS = 3600


def _random_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Token:
    """An access token the fake issued: its principal, tenant and audience."""

    principal: str
    tenant: str
    audience: str
    expires_at: float


@dataclass
class FakeLogin:
    """Apps, managed identities and the tokens issued to them."""

    tenant_id: str
    base_url: str = ""
    identity_header: str = field(default_factory=lambda: secrets.token_hex(16))
    system_identity: str | None = None
    user_identities: set[str] = field(default_factory=set)
    make_token: Callable[[], str] = field(default_factory=lambda: _random_token)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _secrets: dict[str, str] = field(default_factory=dict)
    _certificates: dict[str, tuple[str, x509.Certificate]] = field(default_factory=dict)
    _federated: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_app_secret(self, client_id: str, client_secret: str) -> None:
        self._secrets[client_id] = client_secret

    def add_app_certificate(
        self, client_id: str, certificate: x509.Certificate
    ) -> None:
        der = certificate.public_bytes(serialization.Encoding.DER)
        for digest in (hashlib.sha1(der).digest(), hashlib.sha256(der).digest()):
            thumbprint = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            self._certificates[thumbprint] = (client_id, certificate)

    def add_app_federated_token(self, client_id: str, assertion: str) -> None:
        """Trust ``assertion`` for ``client_id``, as a federated identity credential
        trusts a Kubernetes service account token (workload identity)."""
        self._federated[assertion] = client_id

    def token(self, value: str) -> Token | None:
        with self._lock:
            return self._tokens.get(value)

    def expire_tokens(self) -> None:
        """Make every issued token expired, as after an hour."""
        with self._lock:
            for value, token in list(self._tokens.items()):
                self._tokens[value] = Token(
                    token.principal, token.tenant, token.audience, time.time() - 1
                )

    def count(self, path_end: str) -> int:
        return sum(1 for _, path, _ in self.requests if path.endswith(path_end))

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        with self._lock:
            self.requests.append((request.method, request.path, response.status))
        return response

    def _route(self, request: Request) -> Response:
        if request.path == "/msi/token" and request.method == "GET":
            return self._managed_identity(request)
        parts = request.path.strip("/").split("/")
        tenant = parts[0] if parts else ""
        rest = "/".join(parts[1:])
        if rest == "v2.0/.well-known/openid-configuration":
            return self._openid(tenant)
        if rest == "oauth2/v2.0/token" and request.method == "POST":
            return self._token_request(tenant, request)
        return json_response(404, {"error": "not_found"})

    def _issue(self, principal: str, tenant: str, scope: str) -> tuple[str, int]:
        audience = scope.split(" ")[0].removesuffix("/.default").rstrip("/")
        value = self.make_token()
        expires_at = int(time.time()) + TOKEN_SECONDS
        with self._lock:
            self._tokens[value] = Token(principal, tenant, audience, expires_at)
        return value, expires_at

    def _aad_error(self, status: int, error: str, code: str, text: str) -> Response:
        description = (
            f"{code}: {text}\r\nTrace ID: {secrets.token_hex(8)}\r\nCorrelation ID: "
            f"{secrets.token_hex(8)}\r\nTimestamp: 2025-01-01 00:00:00Z"
        )
        return json_response(
            status,
            {"error": error, "error_description": description, "error_codes": [0]},
        )

    def _openid(self, tenant: str) -> Response:
        if tenant != self.tenant_id:
            return self._aad_error(
                400,
                "invalid_tenant",
                "AADSTS90002",
                f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        root = f"{self.base_url}/{tenant}"
        return json_response(
            200,
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "issuer": f"{root}/v2.0",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                ],
            },
        )

    def _token_request(self, tenant: str, request: Request) -> Response:
        form = request.form()
        client_id = form.get("client_id", "")
        if tenant != self.tenant_id:
            return self._aad_error(
                400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found."
            )
        if form.get("grant_type") != "client_credentials":
            return self._aad_error(
                400, "unsupported_grant_type", "AADSTS70003", "Unsupported grant."
            )
        if "client_assertion" in form:
            principal = self._check_assertion(form, request)
        else:
            principal = self._check_secret(client_id, form.get("client_secret"))
        if isinstance(principal, Response):
            return principal
        value, _ = self._issue(principal, tenant, form.get("scope", ""))
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "ext_expires_in": TOKEN_SECONDS,
                "access_token": value,
            },
        )

    def _check_secret(self, client_id: str, given: str | None) -> str | Response:
        expected = self._secrets.get(client_id)
        if expected is None:
            return self._aad_error(
                400,
                "unauthorized_client",
                "AADSTS700016",
                f"Application with identifier '{client_id}' was not found in the "
                f"directory '{self.tenant_id}'.",
            )
        if given is None or not secrets.compare_digest(
            given.encode("utf-8"), expected.encode("utf-8")
        ):
            return self._aad_error(
                401,
                "invalid_client",
                "AADSTS7000215",
                "Invalid client secret provided. Ensure the secret being sent in the "
                "request is the client secret value, not the client secret ID.",
            )
        return client_id

    def _check_assertion(
        self, form: dict[str, str], request: Request
    ) -> str | Response:
        invalid = self._aad_error(
            401,
            "invalid_client",
            "AADSTS700027",
            "Client assertion failed signature validation.",
        )
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return invalid
        assertion = form["client_assertion"]
        federated = self._federated.get(assertion)
        if federated is not None:
            return federated if federated == form.get("client_id") else invalid
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return invalid
        thumbprint = str(header.get("x5t#S256") or header.get("x5t") or "")
        # MSAL pads the base64 thumbprint; compare the unpadded URL-safe form.
        thumbprint = thumbprint.rstrip("=").replace("+", "-").replace("/", "_")
        registered = self._certificates.get(thumbprint)
        if registered is None:
            return invalid
        client_id, certificate = registered
        audience = f"{self.base_url}{request.path}"
        try:
            claims = jwt.decode(
                assertion,
                certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=audience,
            )
        except jwt.PyJWTError:
            return invalid
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            return invalid
        return client_id

    def _managed_identity(self, request: Request) -> Response:
        if request.header("X-IDENTITY-HEADER") != self.identity_header:
            return json_response(
                401, {"statusCode": 401, "message": "The identity header is invalid."}
            )
        if request.query.get("api-version") != "2019-08-01":
            return json_response(
                400, {"statusCode": 400, "message": "Unsupported api-version."}
            )
        client_id = request.query.get("client_id")
        if client_id is not None and client_id not in self.user_identities:
            return json_response(
                400,
                {
                    "statusCode": 400,
                    "message": "No User Assigned or Delegated Managed Identity found "
                    "for specified ClientId/ResourceId/PrincipalId.",
                },
            )
        principal = client_id or self.system_identity
        if principal is None:
            return json_response(
                400,
                {
                    "statusCode": 400,
                    "message": "No Managed Identity found for specified "
                    "ClientId/ResourceId/PrincipalId.",
                },
            )
        resource = request.query.get("resource", "")
        value, expires_at = self._issue(principal, self.tenant_id, resource)
        return json_response(
            200,
            {
                "access_token": value,
                "expires_on": str(expires_at),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": principal,
            },
        )

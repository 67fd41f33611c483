"""A fake of the Key Vault secrets REST API, as the service documents it.

* Every call needs ``api-version`` (else 400 ``BadParameter``).
* A call without a valid bearer token gets 401 with the challenge
  ``WWW-Authenticate: Bearer authorization="<login>/<tenant>",
  resource="https://vault.azure.net"`` (or ``scope=...``), as Key Vault responds
  to the SDK's first, anonymous request.
* ``GET /secrets/{name}[/{version}]``: the latest or a pinned version. Names are
  case-insensitive. 404 ``SecretNotFound`` for a missing or deleted secret or
  version; 403 ``Forbidden`` with inner code ``SecretDisabled`` for a disabled
  version. Versions outside their ``nbf``/``exp`` window are returned, as the
  service documents; ``strict_validity`` returns 403 with inner code
  ``SecretExpired`` or ``SecretNotYetValid`` instead, as some third-party reports
  describe (the second code's name is an assumption).
* ``GET /deletedsecrets/{name}``: a soft-deleted secret, recoverable until its
  scheduled purge date.
* 403 ``Forbidden`` with inner code ``ForbiddenByRbac`` (or another code set in
  ``denied``) for identities without a role, 429 with ``Retry-After`` while
  throttling, and a ``delay`` before answering Get Secret.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from tests.support.azure_fake.login import FakeLogin
from tests.support.azure_fake.server import Request, Response, json_response

__all__ = ["FakeVault", "Version"]

RESOURCE = "https://vault.azure.net"
RETENTION_DAYS = 90


@dataclass
class Version:
    """One version of a secret and its attributes (Unix seconds)."""

    version: str
    value: str
    enabled: bool = True
    not_before: int | None = None
    expires: int | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    content_type: str | None = None


@dataclass
class Secret:
    name: str
    versions: list[Version] = field(default_factory=list)
    deleted_at: int | None = None


def _error(status: int, code: str, message: str, inner: str | None = None) -> Response:
    error: dict[str, object] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return json_response(status, {"error": error})


@dataclass
class FakeVault:
    """The secrets of one vault, its role assignments and its request log."""

    login: FakeLogin
    base_url: str = ""
    challenge_form: str = "resource"
    strict_validity: bool = False
    denied: dict[str, str] = field(default_factory=dict)
    deleted_read_denied: set[str] = field(default_factory=set)
    throttle_times: int = 0
    retry_after: str = "1"
    delay: float = 0.0
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _secrets: dict[str, Secret] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_secret(
        self,
        name: str,
        value: str,
        *,
        enabled: bool = True,
        not_before: int | None = None,
        expires: int | None = None,
    ) -> str:
        """Add a version (the new latest) and return its version ID."""
        version = Version(uuid.uuid4().hex, value, enabled, not_before, expires)
        with self._lock:
            secret = self._secrets.setdefault(name.lower(), Secret(name))
            secret.versions.append(version)
        return version.version

    def update_version(self, name: str, version: str, *, enabled: bool) -> None:
        with self._lock:
            for candidate in self._secrets[name.lower()].versions:
                if candidate.version == version:
                    candidate.enabled = enabled

    def delete_secret(self, name: str) -> None:
        """Soft-delete the secret: it moves to the deleted secrets until purged."""
        with self._lock:
            self._secrets[name.lower()].deleted_at = int(time.time())

    def purge_secret(self, name: str) -> None:
        with self._lock:
            del self._secrets[name.lower()]

    def counts(self) -> Counter[str]:
        """Count requests by kind: challenge (anonymous), get, deleted."""
        with self._lock:
            return Counter(kind for kind, _, _ in self.requests)

    def handle(self, request: Request) -> Response:
        kind, response = self._route(request)
        with self._lock:
            self.requests.append((kind, request.path, response.status))
        return response

    def _route(self, request: Request) -> tuple[str, Response]:
        if "api-version" not in request.query:
            return "invalid", _error(
                400, "BadParameter", "The 'api-version' query parameter is required."
            )
        principal = self._principal(request)
        if principal is None:
            return "challenge", self._challenge(request)
        if principal in self.denied:
            return "denied", _error(
                403,
                "Forbidden",
                f"Caller is not authorized to perform action on resource. Caller: "
                f"appid={principal}. Action: "
                "'Microsoft.KeyVault/vaults/secrets/getSecret/action'.",
                self.denied[principal],
            )
        if self.throttle_times > 0:
            self.throttle_times -= 1
            return "throttled", Response(
                429,
                b'{"error":{"code":"Throttled","message":"Request was not processed '
                b'because too many requests were received."}}',
                {"Content-Type": "application/json", "Retry-After": self.retry_after},
            )
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts[0] == "secrets" and len(parts) in (2, 3):
            version = parts[2] if len(parts) == 3 else ""
            time.sleep(self.delay)
            return "get", self._get(parts[1], version)
        if request.method == "GET" and parts[0] == "deletedsecrets" and len(parts) == 2:
            return "deleted", self._get_deleted(parts[1], principal)
        return "other", _error(404, "NotFound", "The requested resource was not found.")

    def _principal(self, request: Request) -> str | None:
        header = request.header("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = self.login.token(value.strip())
        if token is None or token.expires_at <= time.time():
            return None
        if token.audience != RESOURCE or token.tenant != self.login.tenant_id:
            return None
        return token.principal

    def _challenge(self, request: Request) -> Response:
        authorization = f"{self.login.base_url}/{self.login.tenant_id}"
        if self.challenge_form == "scope":
            target = f'scope="{RESOURCE}/.default"'
        else:
            target = f'resource="{RESOURCE}"'
        header = f'Bearer authorization="{authorization}", {target}'
        if request.header("Authorization"):
            header += ', error="invalid_token"'
        response = _error(
            401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
        )
        response.headers["WWW-Authenticate"] = header
        return response

    def _bundle(
        self, secret: Secret, version: Version, with_value: bool
    ) -> dict[str, object]:
        attributes: dict[str, object] = {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RETENTION_DAYS,
        }
        if version.not_before is not None:
            attributes["nbf"] = version.not_before
        if version.expires is not None:
            attributes["exp"] = version.expires
        bundle: dict[str, object] = {
            "id": f"{self.base_url}/secrets/{secret.name}/{version.version}",
            "attributes": attributes,
            "tags": {},
        }
        if with_value:
            bundle["value"] = version.value
        if version.content_type:
            bundle["contentType"] = version.content_type
        return bundle

    def _get(self, name: str, version_id: str) -> Response:
        with self._lock:
            secret = self._secrets.get(name.lower())
        shown = f"{name}/{version_id}" if version_id else name
        missing = _error(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {shown} was not found in this key vault. If you "
            "recently deleted this secret you may be able to recover it using the "
            "correct recovery command.",
        )
        if secret is None or secret.deleted_at is not None or not secret.versions:
            return missing
        if version_id:
            found = [v for v in secret.versions if v.version == version_id.lower()]
            if not found:
                return missing
            version = found[0]
        else:
            version = secret.versions[-1]
        if not version.enabled:
            return _error(
                403,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                "SecretDisabled",
            )
        now = time.time()
        if (
            self.strict_validity
            and version.expires is not None
            and version.expires <= now
        ):
            return _error(
                403,
                "Forbidden",
                "Operation get is not allowed on a expired secret.",
                "SecretExpired",
            )
        if (
            self.strict_validity
            and version.not_before is not None
            and version.not_before > now
        ):
            return _error(
                403,
                "Forbidden",
                "Operation get is not allowed on a not yet valid secret.",
                "SecretNotYetValid",
            )
        return json_response(200, self._bundle(secret, version, with_value=True))

    def _get_deleted(self, name: str, principal: str) -> Response:
        if principal in self.deleted_read_denied:
            return _error(
                403,
                "Forbidden",
                f"Caller is not authorized to perform action on resource. Caller: "
                f"appid={principal}. Action: "
                "'Microsoft.KeyVault/vaults/deletedSecrets/read'.",
                "ForbiddenByRbac",
            )
        with self._lock:
            secret = self._secrets.get(name.lower())
        if secret is None or secret.deleted_at is None:
            return _error(404, "SecretNotFound", f"Deleted Secret {name} not found")
        bundle = self._bundle(secret, secret.versions[-1], with_value=False)
        bundle["recoveryId"] = f"{self.base_url}/deletedsecrets/{secret.name}"
        bundle["deletedDate"] = secret.deleted_at
        bundle["scheduledPurgeDate"] = secret.deleted_at + RETENTION_DAYS * 86400
        return json_response(200, bundle)

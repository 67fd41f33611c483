"""The token of one Vault integration: login, renewal and re-login.

One ``TokenManager`` per integration and process keeps one token that every thread
shares. ``token()`` returns it, first doing whatever keeps it usable:

* No token yet: log in (approle, kubernetes, userpass), or take the static token.
* Two thirds of the token's TTL have passed: renew it with ``auth/token/renew-self``.
  When Vault grants less than the TTL it gave before, the token has reached its max
  TTL, so the next refresh logs in again instead of renewing.
* The token is past its TTL, or renewal fails: log in again.

Renewal happens on use, not on a timer, so a process idle for longer than the TTL
logs in again on its next read. A static token is renewed on the same schedule when
its lookup reports it renewable, but it is never replaced. When Vault rejects it,
the caller gets ``token_expired``.

Permissions: the ``default`` policy, which allows ``auth/token/lookup-self`` and
``auth/token/renew-self``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import hvac.exceptions
from pydantic import SecretStr

from prizm import redaction
from prizm.providers.hashicorp.connection import VaultConnection
from prizm.providers.hashicorp.errors import LoginFailure, TokenRejected
from prizm.providers.hashicorp.settings import HashicorpSettings
from prizm.secrets import SecretValue

__all__ = ["TokenInfo", "TokenManager"]

log = logging.getLogger(__name__)

REFRESH_FRACTION = 2 / 3
"""Part of a token's TTL after which it is renewed or replaced."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The token's details from ``auth/token/lookup-self``, without its ID."""

    display_name: str
    policies: tuple[str, ...]
    ttl: int
    renewable: bool
    namespace: str | None

    @classmethod
    def from_lookup(cls, data: dict[str, Any]) -> TokenInfo:
        policies = data.get("policies") or []
        return cls(
            display_name=str(data.get("display_name") or ""),
            policies=tuple(str(policy) for policy in policies),
            ttl=int(data.get("ttl") or 0),
            renewable=bool(data.get("renewable")),
            namespace=data.get("namespace_path") or None,
        )


class TokenManager:
    """Keeps one usable token per integration. Safe to share between threads."""

    def __init__(
        self, settings: HashicorpSettings, connection: VaultConnection
    ) -> None:
        self.settings = settings
        self.connection = connection
        self._lock = threading.Lock()
        self._token: SecretValue | None = None
        self._ttl = 0.0
        self._granted = 0.0
        self._renewable = False
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self.logins = 0
        self.renewals = 0
        # Masks the credentials in logs and scrubbed messages, should Vault or a
        # library ever echo one.
        for credential in (settings.token, settings.secret_id, settings.password):
            if credential is not None:
                redaction.register(credential.get_secret_value())

    @property
    def is_static(self) -> bool:
        return self.settings.auth == "token"

    def token(self) -> str:
        """Return a usable token, logging in or renewing first when due.

        Raises ``LoginFailure`` when a login fails, and the hvac or requests
        exception when a static token's lookup fails for another reason than 403.
        """
        with self._lock:
            now = time.monotonic()
            if self._token is None:
                self._obtain()
            elif self._ttl and now >= self._refresh_at:
                self._refresh(now)
            assert self._token is not None
            return self._token.reveal()

    def is_current(self, token: str) -> bool:
        """Return whether ``token`` is still the current token."""
        with self._lock:
            return self._token is not None and self._token.reveal() == token

    def discard(self, token: str) -> None:
        """Forget ``token`` after Vault rejected it, unless it was replaced already."""
        with self._lock:
            if self._token is not None and self._token.reveal() == token:
                if self.is_static:
                    raise TokenRejected()
                log.warning(
                    "vault token rejected integration=%s, logging in again",
                    self.connection.integration,
                )
                self._token = None

    def lookup(self) -> TokenInfo:
        """Look the current token up with ``auth/token/lookup-self``."""
        self.token()
        response = self.connection.call(
            "lookup-self", self.connection.client.auth.token.lookup_self
        )
        return TokenInfo.from_lookup(response.get("data") or {})

    def is_valid(self) -> bool:
        """Return whether Vault still accepts the current token (lookup-self)."""
        try:
            self.lookup()
        except hvac.exceptions.Forbidden:
            return False
        return True

    def _obtain(self) -> None:
        if not self.is_static:
            self._login()
            return
        token = _reveal(self.settings.token)
        self.connection.set_token(token)
        # Learn the static token's TTL, so that a renewable one is renewed in time.
        try:
            response = self.connection.call(
                "lookup-self", self.connection.client.auth.token.lookup_self
            )
        except hvac.exceptions.Forbidden:
            # Reads will tell whether Vault rejects the token or the token only may
            # not look itself up. Meanwhile it is used as it is.
            response = {}
        info = TokenInfo.from_lookup(response.get("data") or {})
        self._use(token, ttl=float(info.ttl), renewable=info.renewable)

    def _refresh(self, now: float) -> None:
        usable = now < self._expires_at
        if usable and self._renewable:
            try:
                self._renew()
                return
            except hvac.exceptions.VaultError as exc:
                log.warning(
                    "vault token renewal failed integration=%s error=%s",
                    self.connection.integration,
                    exc.__class__.__name__,
                )
        if self.is_static:
            # A static token cannot be replaced, so it is used until Vault rejects it.
            self._ttl = 0.0
            return
        self._login()

    def _renew(self) -> None:
        response = self.connection.call(
            "renew-self", self.connection.client.auth.token.renew_self
        )
        auth = response.get("auth") or {}
        granted = float(auth.get("lease_duration") or 0)
        self.renewals += 1
        capped = granted < self._granted
        self._schedule(granted, bool(auth.get("renewable")) and not capped)
        log.debug(
            "vault token renewed integration=%s ttl=%d at_max_ttl=%s",
            self.connection.integration,
            granted,
            capped,
        )

    def _login(self) -> None:
        try:
            response = self._send_login()
        except LoginFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped by the caller
            # Not chained, because a requests exception carries the request body,
            # which contains the secret ID, password or JWT.
            raise LoginFailure(exc) from None
        auth = response.get("auth") if isinstance(response, dict) else None
        if not isinstance(auth, dict) or not auth.get("client_token"):
            raise LoginFailure("the login response carries no token")
        self.logins += 1
        self._granted = 0.0
        self._use(
            str(auth["client_token"]),
            ttl=float(auth.get("lease_duration") or 0),
            renewable=bool(auth.get("renewable")),
        )
        log.info(
            "vault login integration=%s method=%s mount=%s ttl=%d renewable=%s",
            self.connection.integration,
            self.settings.auth,
            self.settings.mount,
            self._ttl,
            self._renewable,
        )

    def _send_login(self) -> Any:
        """Log in with the configured method (``POST auth/<mount>/login``)."""
        settings = self.settings
        methods = self.connection.login_client.auth
        mount = settings.mount
        if settings.auth == "approle":
            role_id = settings.role_id
            secret_id = _reveal(settings.secret_id)
            return self.connection.call(
                "login approle",
                lambda: methods.approle.login(
                    role_id=role_id,
                    secret_id=secret_id,
                    use_token=False,
                    mount_point=mount,
                ),
            )
        if settings.auth == "userpass":
            username = settings.username
            password = _reveal(settings.password)
            return self.connection.call(
                "login userpass",
                lambda: methods.userpass.login(
                    username=username,
                    password=password,
                    use_token=False,
                    mount_point=mount,
                ),
            )
        role = settings.kubernetes_role
        jwt = self._read_jwt()
        return self.connection.call(
            "login kubernetes",
            lambda: methods.kubernetes.login(
                role=role, jwt=jwt.reveal(), use_token=False, mount_point=mount
            ),
        )

    def _read_jwt(self) -> SecretValue:
        """Read the service-account JWT at every login, as projected tokens rotate."""
        path = self.settings.jwt_path
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read().strip()
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise LoginFailure(
                f"the service-account JWT file {path} could not be read ({reason})"
            ) from None
        except UnicodeDecodeError:
            raise LoginFailure(
                f"the service-account JWT file {path} is not text"
            ) from None
        if not text:
            raise LoginFailure(f"the service-account JWT file {path} is empty")
        return SecretValue(text)

    def _use(self, token: str, *, ttl: float, renewable: bool) -> None:
        self._token = SecretValue(token)
        self.connection.set_token(token)
        self._schedule(ttl, renewable)

    def _schedule(self, ttl: float, renewable: bool) -> None:
        now = time.monotonic()
        self._ttl = ttl
        self._granted = max(self._granted, ttl)
        self._renewable = renewable
        self._refresh_at = now + ttl * REFRESH_FRACTION
        self._expires_at = now + ttl


def _reveal(value: SecretStr | None) -> str:
    assert value is not None, "the settings model requires this credential"
    return value.get_secret_value()

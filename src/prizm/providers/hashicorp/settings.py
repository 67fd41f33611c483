"""Settings of a HashiCorp Vault or OpenBao integration, as users enter them.

The address must use https. Plain http is accepted only with ``allow_http``, for
development servers, because the token travels in a request header.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from prizm.netpolicy import forbidden_host_reason
from prizm.providers.base import CredentialSettings

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_JWT_FILE",
    "AuthMethod",
    "HashicorpSettings",
]

AuthMethod = Literal["token", "approle", "kubernetes", "userpass"]
AUTH_METHODS: tuple[str, ...] = ("token", "approle", "kubernetes", "userpass")
DEFAULT_JWT_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ROOT_NAMESPACE = "root"

# Namespace and mount paths: segments of letters, digits, '_', '-' and '.'.
PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
USERNAME = re.compile(r"[^\s/]{1,256}")

# Fields each auth method uses, so that fields of another method are rejected.
METHOD_FIELDS: dict[str, tuple[str, ...]] = {
    "token": ("token",),
    "approle": ("role_id", "secret_id", "auth_mount"),
    "kubernetes": ("kubernetes_role", "jwt_file", "auth_mount"),
    "userpass": ("username", "password", "auth_mount"),
}
FIELD_LABELS = {
    "token": "token",
    "role_id": "role ID",
    "secret_id": "secret ID",
    "auth_mount": "auth mount",
    "kubernetes_role": "Kubernetes role",
    "jwt_file": "JWT file",
    "username": "username",
    "password": "password",
}


def _check_path(value: str | None, label: str) -> str | None:
    if value is None:
        return None
    value = value.strip("/")
    if value == "":
        return None
    if not PATH.fullmatch(value) or any(
        part in (".", "..") for part in value.split("/")
    ):
        raise ValueError(
            f"the {label} must be path segments of letters, digits, '_', '-' and '.' "
            "separated by '/', such as team-a/prod"
        )
    return value


class HashicorpSettings(CredentialSettings):
    """Address, namespace, authentication and TLS of one Vault integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(
        description="Vault or OpenBao URL, such as https://vault.example.com:8200."
    )
    namespace: str | None = Field(
        default=None, description="Namespace of the secrets, or none for the root."
    )
    auth: AuthMethod = Field(default="token", description="How Prizm gets a token.")
    token: SecretStr | None = None
    role_id: str | None = None
    secret_id: SecretStr | None = None
    kubernetes_role: str | None = None
    jwt_file: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    auth_mount: str | None = Field(
        default=None, description="Path of the auth method; defaults to its name."
    )
    auth_namespace: str | None = Field(
        default=None,
        description="Namespace to log in to, when it differs from the secrets' one.",
    )
    ca_cert: str | None = Field(default=None, description="PEM file of CAs to trust.")
    client_cert: str | None = Field(default=None, description="PEM client certificate.")
    client_key: str | None = Field(default=None, description="PEM client private key.")
    tls_skip_verify: bool = Field(
        default=False, description="Skip TLS certificate checks (development only)."
    )
    allow_http: bool = Field(
        default=False, description="Accept an http:// address (development only)."
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "the address must be an https URL with a host, such as "
                "https://vault.example.com:8200"
            )
        if parts.username or parts.password:
            raise ValueError("the address must not contain a user name or password")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                "the address must have no path, query or fragment, because Prizm "
                "adds /v1/ itself"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError for an invalid port
        except ValueError:
            raise ValueError("the address has an invalid port") from None
        reason = forbidden_host_reason(parts.hostname)
        if reason is not None:
            raise ValueError(
                f"the address may not point at {parts.hostname}: {reason}, and Prizm "
                "would send the token there"
            )
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        value = _check_path(value, "namespace")
        if value == ROOT_NAMESPACE:
            # Vault reserves "root" for the root namespace, which requests select by
            # sending no namespace header.
            return None
        return value

    @field_validator("auth_namespace")
    @classmethod
    def _auth_namespace(cls, value: str | None) -> str | None:
        return _check_path(value, "auth namespace")

    @field_validator("auth_mount")
    @classmethod
    def _auth_mount(cls, value: str | None) -> str | None:
        return _check_path(value, "auth mount")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value and not USERNAME.fullmatch(value):
            raise ValueError("the username must not contain whitespace or '/'")
        return value or None

    @field_validator(
        "role_id", "kubernetes_role", "jwt_file", "ca_cert", "client_cert", "client_key"
    )
    @classmethod
    def _optional_text(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> HashicorpSettings:
        if self.address.startswith("http://") and not self.allow_http:
            raise ValueError(
                "the address uses http, which sends the token unencrypted, so use "
                "https, or allow http for a development server"
            )
        self._check_auth_fields()
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError("a client certificate needs both the certificate and key")
        if self.tls_skip_verify and self.ca_cert:
            raise ValueError("give a CA certificate or skip TLS verification, not both")
        return self

    def _check_auth_fields(self) -> None:
        required = {
            "token": ("token",),
            "approle": ("role_id", "secret_id"),
            "kubernetes": ("kubernetes_role",),
            "userpass": ("username", "password"),
        }[self.auth]
        missing = [FIELD_LABELS[name] for name in required if not self._given(name)]
        if missing:
            raise ValueError(
                f"{self.auth} authentication needs a {' and a '.join(missing)}"
            )
        allowed = METHOD_FIELDS[self.auth]
        foreign = [
            FIELD_LABELS[name]
            for fields in METHOD_FIELDS.values()
            for name in fields
            if name not in allowed and self._given(name)
        ]
        if foreign:
            unique = list(dict.fromkeys(foreign))
            raise ValueError(
                f"{self.auth} authentication takes no {' or '.join(unique)}"
            )
        if self.auth == "token" and self.auth_namespace:
            raise ValueError(
                "token authentication takes no auth namespace. Set the namespace "
                "the token was created in as the namespace"
            )

    def _given(self, name: str) -> bool:
        value = getattr(self, name)
        if isinstance(value, SecretStr):
            return value.get_secret_value() != ""
        return bool(value)

    @property
    def mount(self) -> str:
        """The auth method's mount path: the configured one or the method's name."""
        return self.auth_mount or self.auth

    @property
    def login_namespace(self) -> str | None:
        """The namespace logins go to: the auth namespace, else the secrets' one.

        ``root`` names the root namespace, which Vault reserves as a name, so a login
        at the root can serve secrets in a child namespace.
        """
        if self.auth_namespace == ROOT_NAMESPACE:
            return None
        return self.auth_namespace or self.namespace

    @property
    def jwt_path(self) -> str:
        return self.jwt_file or DEFAULT_JWT_FILE

    def location(self) -> str:
        """Return the address and namespace, for messages."""
        text = f"address {self.address}"
        if self.namespace:
            text += f", namespace {self.namespace}"
        return text

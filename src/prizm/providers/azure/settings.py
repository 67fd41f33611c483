"""Settings of an Azure Key Vault integration, as users enter them.

The vault URL must be ``https://<vault-name>.<suffix>`` where the suffix is the Key
Vault DNS suffix of an Azure cloud (``KEY_VAULT_SUFFIXES``), or an https URL on a
loopback address, which is how tests and local emulators serve Key Vault. Any other
host is rejected, because the SDK sends bearer tokens for the vault to that host.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
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
    "AUTHORITY_BY_SUFFIX",
    "AUTH_METHODS",
    "CHAIN_MEMBERS",
    "KEY_VAULT_SUFFIXES",
    "AzureSettings",
    "is_loopback_host",
]

AuthMethod = Literal[
    "client-secret", "client-certificate", "managed-identity", "default"
]
AUTH_METHODS: tuple[str, ...] = (
    "client-secret",
    "client-certificate",
    "managed-identity",
    "default",
)

ChainMember = Literal[
    "environment", "workload-identity", "managed-identity", "azure-cli"
]
CHAIN_MEMBERS: tuple[str, ...] = (
    "environment",
    "workload-identity",
    "managed-identity",
    "azure-cli",
)

AUTHORITY_BY_SUFFIX: dict[str, str] = {
    "vault.azure.net": "login.microsoftonline.com",
    "vault.azure.cn": "login.chinacloudapi.cn",
    "vault.usgovcloudapi.net": "login.microsoftonline.us",
}
"""Key Vault DNS suffix of each Azure cloud, and the Microsoft Entra authority host
that issues tokens in that cloud (azure-identity's ``AzureAuthorityHosts``)."""

KEY_VAULT_SUFFIXES: tuple[str, ...] = tuple(AUTHORITY_BY_SUFFIX)

VAULT_NAME = re.compile(r"[a-z](?!.*--)[a-z0-9-]{1,22}[a-z0-9]")
GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
HOST = re.compile(r"([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}")
LOOPBACK_NAMES = frozenset({"localhost"})
FIELD_LABELS = {
    "tenant_id": "tenant ID",
    "client_id": "client ID",
    "client_secret": "client secret",
    "certificate_file": "certificate file",
}


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` is ``localhost`` or a loopback IP address."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_https_url(value: str, label: str, example: str) -> tuple[str, int | None]:
    """Split an https URL without path, query or credentials into host and port."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ValueError(
            f"{label} {value!r} is not a valid URL, such as {example}"
        ) from None
    if parts.scheme.lower() != "https":
        raise ValueError(f"{label} must start with https://, such as {example}")
    if not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{label} must name a host and no user, such as {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            f"{label} must have no path, query or fragment, such as {example}"
        )
    return parts.hostname.lower(), port


def _format_url(host: str, port: int | None) -> str:
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != 443:
        authority += f":{port}"
    return f"https://{authority}"


def normalize_vault_url(value: str) -> str:
    """Return the vault URL in one canonical form, or raise ``ValueError``."""
    example = "https://my-vault.vault.azure.net"
    host, port = _parse_https_url(value, "the vault URL", example)
    if is_loopback_host(host):
        if port is None:
            raise ValueError(
                "a loopback vault URL (a test server or emulator) needs a port, such "
                "as https://127.0.0.1:8443"
            )
        return _format_url(host, port)
    suffix = next((s for s in KEY_VAULT_SUFFIXES if host.endswith("." + s)), None)
    if suffix is None:
        known = ", ".join(KEY_VAULT_SUFFIXES)
        raise ValueError(
            f"the vault URL host {host!r} is not a Key Vault host: use "
            f"https://<vault-name>.<suffix> with a suffix of {known}"
        )
    name = host[: -len(suffix) - 1]
    if not VAULT_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a Key Vault name: use 3 to 24 letters, digits and "
            "single dashes, starting with a letter and ending with a letter or digit"
        )
    if port is not None and port != 443:
        raise ValueError("a Key Vault URL takes no port other than 443")
    return _format_url(host, None)


def vault_suffix(vault_url: str) -> str | None:
    """Return the Key Vault DNS suffix of ``vault_url``, or None for loopback."""
    host = (urlsplit(vault_url).hostname or "").lower()
    return next((s for s in KEY_VAULT_SUFFIXES if host.endswith("." + s)), None)


class AzureSettings(CredentialSettings):
    """Vault URL, authentication and connection settings of one Key Vault
    integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vault_url: str = Field(description="The vault URL, https://<name>.vault.azure.net.")
    auth: AuthMethod = Field(
        description="client-secret, client-certificate, managed-identity or default "
        "(environment, workload identity, managed identity, Azure CLI)."
    )
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    certificate_file: str | None = None
    certificate_password: SecretStr | None = None
    authority_host: str | None = None
    exclude_credentials: tuple[ChainMember, ...] = ()
    ca_bundle: str | None = None
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=10.0, gt=0, le=300)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_retry_wait: float = Field(default=30.0, ge=0, le=3600)

    @field_validator("vault_url")
    @classmethod
    def _vault_url(cls, value: str) -> str:
        return normalize_vault_url(value)

    @field_validator("tenant_id")
    @classmethod
    def _tenant_id(cls, value: str | None) -> str | None:
        # NOTE: a domain name such as contoso.onmicrosoft.com is rejected because the
        # vault's challenge names the tenant by GUID, and azure-identity gets no
        # tokens for a tenant that differs from the configured one.
        if value and not GUID.fullmatch(value):
            raise ValueError(
                "the tenant ID must be the directory (tenant) ID GUID, such as "
                "00000000-0000-0000-0000-000000000000"
            )
        return value.lower() if value else None

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value and not GUID.fullmatch(value):
            raise ValueError(
                "the client ID must be an application (client) ID GUID, such as "
                "00000000-0000-0000-0000-000000000000"
            )
        return value.lower() if value else None

    @field_validator("authority_host")
    @classmethod
    def _authority_host(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "://" not in value:
            value = "https://" + value
        host, port = _parse_https_url(
            value, "the authority host", "https://login.microsoftonline.us"
        )
        if not (HOST.fullmatch(host) or is_loopback_host(host)):
            raise ValueError(f"the authority host {host!r} is not a valid host name")
        reason = forbidden_host_reason(host)
        if reason is not None:
            raise ValueError(
                f"the authority host may not be {host}: {reason}, and Prizm would "
                "send the client credentials there"
            )
        return _format_url(host, port)

    @field_validator("certificate_file", "ca_bundle")
    @classmethod
    def _absolute_path(cls, value: str | None) -> str | None:
        if value and not Path(value).is_absolute():
            raise ValueError(f"the file path {value!r} must be absolute")
        return value or None

    @model_validator(mode="after")
    def _auth_fields(self) -> AzureSettings:
        required: dict[str, tuple[str, ...]] = {
            "client-secret": ("tenant_id", "client_id", "client_secret"),
            "client-certificate": ("tenant_id", "client_id", "certificate_file"),
            "managed-identity": (),
            "default": (),
        }
        missing = [name for name in required[self.auth] if not getattr(self, name)]
        if missing:
            labels = " and ".join(FIELD_LABELS[name] for name in missing)
            raise ValueError(f"{self.auth} authentication needs a {labels}")
        if self.client_secret is not None and self.auth != "client-secret":
            raise ValueError(f"{self.auth} authentication takes no client secret")
        certificate = self.certificate_file or self.certificate_password
        if certificate and self.auth != "client-certificate":
            raise ValueError(f"{self.auth} authentication takes no certificate file")
        if self.tenant_id and self.auth in ("managed-identity", "default"):
            raise ValueError(
                f"{self.auth} authentication takes no tenant ID: the identity's own "
                "tenant is used"
            )
        if self.exclude_credentials and self.auth != "default":
            raise ValueError(
                "excluded credentials apply only to default authentication"
            )
        if len(set(self.exclude_credentials)) == len(CHAIN_MEMBERS):
            raise ValueError("default authentication needs at least one credential")
        return self

    def is_loopback(self) -> bool:
        """Return whether the vault is a test server or emulator on this machine."""
        return is_loopback_host(urlsplit(self.vault_url).hostname or "")

    def authority(self) -> str | None:
        """Return the authority host to request tokens from, or None for the
        SDK's default (the public cloud, or ``AZURE_AUTHORITY_HOST``)."""
        if self.authority_host:
            return self.authority_host
        suffix = vault_suffix(self.vault_url)
        if suffix is None or suffix == "vault.azure.net":
            return None
        return "https://" + AUTHORITY_BY_SUFFIX[suffix]

    def location(self) -> str:
        return f"vault {self.vault_url}"

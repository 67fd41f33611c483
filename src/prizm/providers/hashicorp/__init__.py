"""HashiCorp Vault and OpenBao: settings, token, provider and Test Connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from prizm.providers.hashicorp.settings import HashicorpSettings

if TYPE_CHECKING:
    from prizm.providers.hashicorp.provider import HashicorpProvider

__all__ = [
    "HASHICORP",
    "HashicorpProvider",
    "HashicorpProviderType",
    "HashicorpSettings",
]


class HashicorpProviderType:
    """The HashiCorp Vault (and OpenBao) integration type."""

    type_name: str = "hashicorp"
    display_name: str = "HashiCorp Vault"
    default_name: str = "hashicorp"
    settings_model: type[BaseModel] = HashicorpSettings
    credential_fields: tuple[str, ...] = ("token", "secret_id", "password")
    destination_fields: tuple[str, ...] = (
        "address",
        "allow_http",
        "tls_skip_verify",
        "ca_cert",
    )

    def create(self, name: str, settings: BaseModel) -> HashicorpProvider:
        assert isinstance(settings, HashicorpSettings)
        # Imported here so that listing types or reading settings does not load
        # the vault SDK.
        from prizm.providers.hashicorp.provider import HashicorpProvider

        return HashicorpProvider(name, settings)

    def summary(self, settings: Mapping[str, Any]) -> dict[str, str]:
        location = f"address {settings.get('address', '?')}"
        if settings.get("namespace"):
            location += f", namespace {settings['namespace']}"
        auth = str(settings.get("auth", "token"))
        if auth != "token":
            auth += f" at auth/{settings.get('auth_mount') or auth}"
        if settings.get("auth_namespace"):
            auth += f" in namespace {settings['auth_namespace']}"
        return {"location": location, "auth": auth}


HASHICORP = HashicorpProviderType()


def __getattr__(name: str) -> Any:
    if name == "HashicorpProvider":
        from prizm.providers.hashicorp.provider import HashicorpProvider

        return HashicorpProvider
    raise AttributeError(name)

"""Azure Key Vault: settings, provider and Test Connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from prizm.providers.azure.settings import AzureSettings

if TYPE_CHECKING:
    from prizm.providers.azure.provider import AzureProvider

__all__ = ["AZURE", "AzureProvider", "AzureProviderType", "AzureSettings"]


class AzureProviderType:
    """The Azure Key Vault integration type."""

    type_name: str = "azure"
    display_name: str = "Azure Key Vault"
    default_name: str = "azure"
    settings_model: type[BaseModel] = AzureSettings
    credential_fields: tuple[str, ...] = ("client_secret", "certificate_password")
    destination_fields: tuple[str, ...] = ("vault_url", "authority_host", "ca_bundle")

    def create(self, name: str, settings: BaseModel) -> AzureProvider:
        assert isinstance(settings, AzureSettings)
        # Imported here so that listing types or reading settings does not load
        # the vault SDK.
        from prizm.providers.azure.provider import AzureProvider

        return AzureProvider(name, settings)

    def summary(self, settings: Mapping[str, Any]) -> dict[str, str]:
        location = f"vault {settings.get('vault_url', '?')}"
        auth = str(settings.get("auth", "?"))
        details = [
            f"{label} {settings[field]}"
            for field, label in (("client_id", "client"), ("tenant_id", "tenant"))
            if settings.get(field)
        ]
        if details:
            auth += f" ({', '.join(details)})"
        return {"location": location, "auth": auth}


AZURE = AzureProviderType()


def __getattr__(name: str) -> Any:
    if name == "AzureProvider":
        from prizm.providers.azure.provider import AzureProvider

        return AzureProvider
    raise AttributeError(name)

"""Azure Key Vault: settings, provider and Test Connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from prizm.providers.azure.provider import AzureProvider
from prizm.providers.azure.settings import AzureSettings

__all__ = ["AZURE", "AzureProvider", "AzureProviderType", "AzureSettings"]


class AzureProviderType:
    """The Azure Key Vault integration type."""

    type_name: str = "azure"
    display_name: str = "Azure Key Vault"
    default_name: str = "azure"
    settings_model: type[BaseModel] = AzureSettings
    credential_fields: tuple[str, ...] = ("client_secret", "certificate_password")

    def create(self, name: str, settings: BaseModel) -> AzureProvider:
        assert isinstance(settings, AzureSettings)
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

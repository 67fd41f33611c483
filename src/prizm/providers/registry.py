"""The integration types Prizm knows, by type name."""

from __future__ import annotations

from prizm.errors import UsageError
from prizm.providers.aws import AWS
from prizm.providers.azure import AZURE
from prizm.providers.base import ProviderType
from prizm.providers.hashicorp import HASHICORP

__all__ = ["PROVIDER_TYPES", "provider_type"]

PROVIDER_TYPES: dict[str, ProviderType] = {
    AWS.type_name: AWS,
    HASHICORP.type_name: HASHICORP,
    AZURE.type_name: AZURE,
}


def provider_type(type_name: str) -> ProviderType:
    """Return the integration type called ``type_name``, or raise ``UsageError``."""
    found = PROVIDER_TYPES.get(type_name)
    if found is None:
        known = ", ".join(sorted(PROVIDER_TYPES))
        raise UsageError(
            f"Unknown integration type '{type_name}'.",
            hint=f"Use one of: {known}.",
        )
    return found

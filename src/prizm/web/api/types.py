"""``/api/v1/integration-types`` and ``/api/v1/connector-types``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prizm.connectors.registry import all_connector_types
from prizm.errors import UsageError
from prizm.providers.base import ProviderType
from prizm.providers.registry import PROVIDER_TYPES
from prizm.web.api.deps import Viewer
from prizm.web.forms import integration_form

__all__ = ["integration_type_dict", "router"]

router = APIRouter(tags=["types"])


def integration_type_dict(kind: ProviderType) -> dict[str, Any]:
    """Describe an integration type with the fields of its form."""
    return {
        "type": kind.type_name,
        "display_name": kind.display_name,
        "default_name": kind.default_name,
        "credential_fields": list(kind.credential_fields),
        "fields": [field.to_dict() for field in integration_form(kind)],
        "json_schema": kind.settings_model.model_json_schema(),
    }


@router.get("/integration-types")
def list_integration_types(principal: Viewer) -> list[dict[str, Any]]:
    """List the integration types and the fields of their settings."""
    return [integration_type_dict(kind) for kind in PROVIDER_TYPES.values()]


@router.get("/integration-types/{type_name}")
def get_integration_type(type_name: str, principal: Viewer) -> dict[str, Any]:
    """Describe one integration type and the fields of its settings."""
    kind = PROVIDER_TYPES.get(type_name)
    if kind is None:
        raise UsageError(
            f"Unknown integration type '{type_name}'.",
            hint=f"Use one of: {', '.join(sorted(PROVIDER_TYPES))}.",
        )
    return integration_type_dict(kind)


@router.get("/connector-types")
def list_connector_types(principal: Viewer) -> list[dict[str, Any]]:
    """List the connector types and their fields; secret fields take references."""
    return [
        {
            "type": kind.type_name,
            "display_name": kind.display_name,
            "fields": [spec.to_dict() for spec in kind.fields],
        }
        for kind in all_connector_types()
    ]

"""``/api/v1/integrations``: vault integrations and Test Connection.

Credentials are write-only: they are accepted in ``settings`` and never returned,
and a credential given as an empty string on update keeps the stored one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from prizm.integrations import IntegrationService
from prizm.providers.registry import provider_type
from prizm.web.api.deps import Admin, Viewer, integrations

__all__ = ["router"]

router = APIRouter(prefix="/integrations", tags=["integrations"])

Service = Annotated[IntegrationService, Depends(integrations)]


class IntegrationCreate(BaseModel):
    """A new integration: its type, an optional name and its settings."""

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str | None = Field(
        default=None, description="Defaults to the type's name, such as 'aws'."
    )
    settings: dict[str, Any] = Field(default_factory=dict)
    allowed_secrets: list[str] = Field(
        default_factory=list,
        description="Secret name patterns references may use, such as 'prizm/*'. "
        "Empty allows every secret the integration's identity can read.",
    )


class AllowedSecrets(BaseModel):
    """The secret name patterns that references through an integration may use."""

    model_config = ConfigDict(extra="forbid")

    patterns: list[str] = Field(
        description="Globs such as 'prizm/*', prefixes ending in '/', or exact "
        "names. An empty list allows every secret."
    )


class IntegrationUpdate(BaseModel):
    """Settings to change and settings to clear; other settings are kept."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = Field(default_factory=dict)
    clear: list[str] = Field(default_factory=list)


class TestRequest(BaseModel):
    """Secrets to read during Test Connection, as NAME, NAME#KEY or references."""

    model_config = ConfigDict(extra="forbid")

    secrets: list[str] = Field(default_factory=list)


class UnsavedTestRequest(BaseModel):
    """Settings to test before they are saved."""

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    secrets: list[str] = Field(default_factory=list)
    allowed_secrets: list[str] = Field(
        default_factory=list,
        description="Patterns to test with: secrets outside them are not read.",
    )


@router.get("")
def list_integrations(service: Service, principal: Viewer) -> list[dict[str, Any]]:
    """List the integrations; credentials appear only as "(set)"."""
    return [view.to_dict() for view in service.list()]


@router.post("", status_code=201)
def add_integration(
    body: IntegrationCreate, service: Service, principal: Admin
) -> dict[str, Any]:
    """Validate and store a new integration."""
    record = service.add(
        body.type, body.name, body.settings, allowed_secrets=body.allowed_secrets
    )
    return service.view(record).to_dict()


@router.post("/test")
def test_unsaved(
    body: UnsavedTestRequest, service: Service, principal: Admin
) -> dict[str, Any]:
    """Run Test Connection on settings that are not stored."""
    name = body.name or provider_type(body.type).default_name
    report = service.test_unsaved(
        body.type, name, body.settings, body.secrets, body.allowed_secrets
    )
    return report.to_dict()


@router.get("/{name}")
def get_integration(name: str, service: Service, principal: Viewer) -> dict[str, Any]:
    """Show an integration; credentials appear only as "(set)"."""
    return service.view(service.get(name)).to_dict()


@router.patch("/{name}")
def update_integration(
    name: str, body: IntegrationUpdate, service: Service, principal: Admin
) -> dict[str, Any]:
    """Change settings; credentials not given, or given empty, are kept."""
    record = service.update(name, body.settings, clear=body.clear)
    return service.view(record).to_dict()


@router.put("/{name}/allowed-secrets")
def restrict_integration(
    name: str, body: AllowedSecrets, service: Service, principal: Admin
) -> dict[str, Any]:
    """Replace the allowed secret patterns; the change is audited.

    ``refused_references`` lists, by connector, the fields whose references the new
    list excludes: their runs are rejected until the references or the list change.
    """
    record = service.restrict(name, body.patterns)
    outside = service.references_outside(name)
    return {**service.view(record).to_dict(), "refused_references": outside}


@router.delete("/{name}", status_code=204)
def remove_integration(name: str, service: Service, principal: Admin) -> Response:
    """Remove an integration; rejected while connectors reference it."""
    service.remove(name)
    return Response(status_code=204)


@router.post("/{name}/test")
def test_integration(
    name: str, service: Service, principal: Admin, body: TestRequest | None = None
) -> dict[str, Any]:
    """Run Test Connection on a stored integration and store the outcome."""
    report = service.test(name, body.secrets if body else [])
    return report.to_dict()

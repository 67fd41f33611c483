"""``/api/v1/connectors``: connectors, reference checks and starting runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from prizm.connector_service import ConnectorService
from prizm.errors import PrizmError
from prizm.secrets import ResolvedValue
from prizm.web.api.deps import Editor, Viewer, connectors, run_queue
from prizm.web.run_queue import RunQueue

__all__ = ["check_result", "router"]

router = APIRouter(prefix="/connectors", tags=["connectors"])

Service = Annotated[ConnectorService, Depends(connectors)]
Queue = Annotated[RunQueue, Depends(run_queue)]


class ConnectorCreate(BaseModel):
    """A new connector. Secret fields take ``vault://`` references only."""

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str
    fields: dict[str, str] = Field(default_factory=dict)


class ConnectorUpdate(BaseModel):
    """Fields to change and fields to clear; other fields are kept."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)


class ConnectorValidate(BaseModel):
    """Fields to validate without saving them."""

    model_config = ConfigDict(extra="forbid")

    type: str
    fields: dict[str, str] = Field(default_factory=dict)


class ReferencesCheck(BaseModel):
    """References to resolve now, labelled by field."""

    model_config = ConfigDict(extra="forbid")

    references: dict[str, str]


def check_result(
    outcomes: dict[str, ResolvedValue | PrizmError],
) -> dict[str, Any]:
    """Describe each outcome by its source or its error, never by its value."""
    fields: dict[str, Any] = {}
    for field, outcome in outcomes.items():
        if isinstance(outcome, PrizmError):
            fields[field] = {"ok": False, "error": outcome.to_dict()}
        else:
            fields[field] = {"ok": True, **outcome.source.to_dict()}
    ok = all(item["ok"] for item in fields.values())
    return {"ok": ok, "fields": fields}


@router.get("")
def list_connectors(service: Service, principal: Viewer) -> list[dict[str, Any]]:
    """List the connectors with their fields (references, never values)."""
    return [service.view(record).to_dict() for record in service.all()]


@router.post("", status_code=201)
def add_connector(
    body: ConnectorCreate, service: Service, principal: Editor
) -> dict[str, Any]:
    """Validate and store a new connector; references are checked, not resolved."""
    record = service.add(body.type, body.name, body.fields)
    return service.view(record).to_dict()


@router.post("/validate")
def validate_connector(
    body: ConnectorValidate, service: Service, principal: Editor
) -> dict[str, Any]:
    """Validate fields as saving would, without saving them."""
    service.validate(body.type, body.fields)
    return {"ok": True}


@router.post("/check-references")
def check_references(
    body: ReferencesCheck, service: Service, principal: Editor
) -> dict[str, Any]:
    """Resolve references now and report each secret's ARN or path and version."""
    return check_result(service.check_references(body.references))


@router.get("/{name}")
def get_connector(name: str, service: Service, principal: Viewer) -> dict[str, Any]:
    """Show a connector and the secret versions its last run used."""
    return service.view(service.get(name)).to_dict()


@router.patch("/{name}")
def update_connector(
    name: str, body: ConnectorUpdate, service: Service, principal: Editor
) -> dict[str, Any]:
    """Change some fields of a connector; the others are kept."""
    record = service.update(name, body.fields, body.unset)
    return service.view(record).to_dict()


@router.delete("/{name}", status_code=204)
def remove_connector(name: str, service: Service, principal: Editor) -> Response:
    """Remove a connector; its runs stay in the history."""
    service.remove(name)
    return Response(status_code=204)


@router.post("/{name}/check")
def check_connector(name: str, service: Service, principal: Editor) -> dict[str, Any]:
    """Resolve every reference of a connector now, without running its job."""
    return check_result(service.check(name))


@router.post("/{name}/runs", status_code=202)
def start_run(name: str, queue: Queue, principal: Editor) -> dict[str, Any]:
    """Start a run in the background; poll ``/api/v1/runs/{id}`` for its outcome."""
    return queue.start(name).to_dict()

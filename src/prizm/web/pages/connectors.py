"""Connectors: list, create, edit, delete, check references and run now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prizm.connectors.registry import all_connector_types, connector_type
from prizm.errors import InvalidField, PrizmError
from prizm.references import is_reference, parse_reference
from prizm.secrets import ResolvedValue
from prizm.web.api.deps import connectors, run_queue
from prizm.web.forms import connector_form
from prizm.web.forms.connector_forms import reference_hint
from prizm.web.pages.deps import Editor, Viewer
from prizm.web.pages.forms import Form, text
from prizm.web.pages.render import render

__all__ = ["router"]

router = APIRouter(prefix="/connectors", include_in_schema=False)


def _integration_hint(request: Request) -> str:
    names = connectors(request).store.integrations.names()
    return names[0] if names else "aws"


def _form_page(
    request: Request,
    type_name: str,
    *,
    name: str,
    values: dict[str, str],
    editing: bool,
    error: PrizmError | None = None,
) -> HTMLResponse:
    kind = connector_type(type_name)
    integration = _integration_hint(request)
    return render(
        request,
        "connectors/form.html",
        {
            "section": "connectors",
            "kind": kind,
            "name": name,
            "fields": connector_form(kind, values, integration),
            "hint": reference_hint(integration),
            "editing": editing,
            "error": error,
            "action": f"/connectors/{name}/edit" if editing else "/connectors/new",
        },
        status_code=200 if error is None else error.http_status,
    )


def _submitted_fields(form: Form, type_name: str) -> dict[str, str]:
    kind = connector_type(type_name)
    return {spec.name: text(form, spec.name).strip() for spec in kind.fields}


@router.get("")
def list_page(request: Request, principal: Viewer, removed: str = "") -> HTMLResponse:
    service = connectors(request)
    rows = []
    for record in service.all():
        runs = service.store.runs.recent(record.name, limit=1)
        references = sum(1 for value in record.fields.values() if is_reference(value))
        rows.append(
            (
                record,
                connector_type(record.type),
                references,
                runs[0] if runs else None,
            )
        )
    return render(
        request,
        "connectors/list.html",
        {
            "section": "connectors",
            "rows": rows,
            "notice": f"Removed connector '{removed}'." if removed else "",
        },
    )


@router.get("/new")
def new_form(request: Request, principal: Editor, type: str = "") -> HTMLResponse:
    if not type:
        kinds = all_connector_types()
        return render(
            request,
            "connectors/types.html",
            {"section": "connectors", "kinds": kinds},
        )
    return _form_page(request, type, name="", values={}, editing=False)


@router.post("/new")
def add(request: Request, form: Form, principal: Editor) -> Response:
    type_name = text(form, "type")
    name = text(form, "name").strip()
    fields = _submitted_fields(form, type_name)
    try:
        connectors(request).add(type_name, name, fields)
    except PrizmError as error:
        return _form_page(
            request, type_name, name=name, values=fields, editing=False, error=error
        )
    return RedirectResponse(f"/connectors/{name}?saved=1", status_code=303)


@router.post("/validate-field")
def validate_field(request: Request, form: Form, principal: Editor) -> HTMLResponse:
    """Check one field as the user types; the response never repeats the value."""
    field = text(form, "field")
    value = text(form, field).strip()
    message = ""
    error: PrizmError | None = None
    try:
        connectors(request).validate_field(text(form, "type"), field, value)
    except PrizmError as failure:
        error = failure
    else:
        if value.startswith("vault://"):
            reference = parse_reference(value)
            key = f", key '{reference.key}'" if reference.key is not None else ""
            message = (
                f"Reference to secret '{reference.name}' in integration "
                f"'{reference.integration}'{key}."
            )
    return render(
        request, "connectors/_validation.html", {"error": error, "message": message}
    )


@router.post("/check-reference")
def check_reference(request: Request, form: Form, principal: Editor) -> HTMLResponse:
    """Resolve one reference from the form and report its source or error."""
    field = text(form, "field")
    value = text(form, field).strip()
    outcomes: dict[str, ResolvedValue | PrizmError]
    if is_reference(value):
        outcomes = connectors(request).check_references({field: value})
    else:
        # A literal in a secret field may be a password, so it is not parsed,
        # because a parse error would quote it.
        outcomes = {
            field: InvalidField(
                f"The field '{field}' holds no vault:// reference to check.",
                hint=f"Enter a reference such as {reference_hint('aws')}.",
            )
        }
    return render(request, "connectors/_check.html", {"outcomes": outcomes})


@router.get("/{name}")
def detail(
    request: Request, name: str, principal: Viewer, saved: str = ""
) -> HTMLResponse:
    service = connectors(request)
    view = service.view(service.get(name))
    return render(
        request,
        "connectors/detail.html",
        {
            "section": "connectors",
            "view": view,
            "runs": service.store.runs.recent(name, limit=10),
            "notice": f"Saved connector '{name}'." if saved else "",
        },
    )


@router.get("/{name}/edit")
def edit_form(request: Request, name: str, principal: Editor) -> HTMLResponse:
    record = connectors(request).get(name)
    return _form_page(
        request, record.type, name=name, values=dict(record.fields), editing=True
    )


@router.post("/{name}/edit")
def update(request: Request, name: str, form: Form, principal: Editor) -> Response:
    service = connectors(request)
    record = service.get(name)
    fields = _submitted_fields(form, record.type)
    unset = [field for field, value in fields.items() if value == ""]
    changes = {field: value for field, value in fields.items() if value != ""}
    try:
        service.update(name, changes, unset)
    except PrizmError as error:
        return _form_page(
            request, record.type, name=name, values=fields, editing=True, error=error
        )
    return RedirectResponse(f"/connectors/{name}?saved=1", status_code=303)


@router.post("/{name}/check")
def check(request: Request, name: str, principal: Editor) -> HTMLResponse:
    outcomes = connectors(request).check(name)
    return render(request, "connectors/_check.html", {"outcomes": outcomes})


@router.post("/{name}/run")
def run_now(request: Request, name: str, principal: Editor) -> Response:
    record = run_queue(request).start(name)
    return RedirectResponse(f"/runs/{record.id}", status_code=303)


@router.post("/{name}/delete")
def remove(request: Request, name: str, principal: Editor) -> Response:
    connectors(request).remove(name)
    return RedirectResponse(f"/connectors?removed={name}", status_code=303)

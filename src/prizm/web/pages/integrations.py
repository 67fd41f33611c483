"""Settings → Integrations: the list, Add Integration, edit, Test Connection.

Credential inputs are write-only: the pages never render a stored or submitted
credential, and an empty credential input on the edit form keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from prizm.errors import PrizmError
from prizm.integrations import IntegrationService, IntegrationView
from prizm.policy import suggested_pattern
from prizm.providers.base import ProviderType
from prizm.providers.registry import PROVIDER_TYPES, provider_type
from prizm.web.api.deps import integrations
from prizm.web.forms import (
    FormField,
    changes_from_form,
    integration_form,
    settings_from_form,
)
from prizm.web.pages.deps import Admin, Viewer
from prizm.web.pages.forms import Form, form_values, text
from prizm.web.pages.render import render

__all__ = ["router"]

router = APIRouter(prefix="/settings/integrations", include_in_schema=False)

DESCRIPTIONS = {
    "aws": "Secrets in AWS Secrets Manager, read with an IAM role or access keys.",
    "hashicorp": "KV secrets in HashiCorp Vault or OpenBao, with token, AppRole, "
    "Kubernetes or userpass login.",
    "azure": "Secrets in Azure Key Vault, with a service principal or managed "
    "identity.",
}


def _secrets(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


def _patterns(form: FormData) -> list[str]:
    """Return the allowed-secret patterns of the form, one per line."""
    lines = text(form, "allowed_secrets").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _shown_values(fields: list[FormField], values: dict[str, Any]) -> dict[str, Any]:
    """Return the values to fill the form with, leaving out every credential."""
    secret = {field.name for field in fields if field.secret}
    return {name: value for name, value in values.items() if name not in secret}


def _form_page(
    request: Request,
    kind: ProviderType,
    *,
    name: str,
    values: dict[str, Any],
    editing: bool,
    error: PrizmError | None = None,
    stored_credentials: tuple[str, ...] = (),
    test_secrets: str = "",
    allowed_secrets: str = "",
) -> HTMLResponse:
    fields = integration_form(kind)
    if editing:
        action = f"/settings/integrations/{name}/edit"
    else:
        action = f"/settings/integrations/new/{kind.type_name}"
    return render(
        request,
        "integrations/form.html",
        {
            "section": "integrations",
            "kind": kind,
            "fields": fields,
            "values": _shown_values(fields, values),
            "name": name,
            "editing": editing,
            "error": error,
            "action": action,
            "test_action": action + "/test",
            "stored_credentials": stored_credentials,
            "test_secrets": test_secrets,
            "allowed_secrets": allowed_secrets,
            "suggested_pattern": suggested_pattern(kind.type_name),
        },
        status_code=200 if error is None else error.http_status,
    )


def _list_page(
    request: Request,
    *,
    notice: str = "",
    saved: str = "",
    error: PrizmError | None = None,
) -> HTMLResponse:
    service = integrations(request)
    views = service.list()
    return render(
        request,
        "integrations/list.html",
        {
            "section": "integrations",
            "views": views,
            "notice": notice,
            "warnings": _warnings(service, views, saved),
            "error": error,
        },
        status_code=200 if error is None else error.http_status,
    )


def _warnings(
    service: IntegrationService, views: list[IntegrationView], saved: str
) -> list[str]:
    """Warn about the saved integration allowing every secret, and about
    connectors whose references an allowed list excludes (their runs fail)."""
    warnings: list[str] = []
    for view in views:
        name = view.record.name
        if name == saved:
            warnings.extend(view.warnings)
        if not view.record.allowed_secrets:
            continue
        for connector, fields in service.references_outside(name).items():
            warnings.append(
                f"Connector '{connector}' references secrets outside the allowed "
                f"secrets of integration '{name}' in {', '.join(fields)}, so its runs "
                "are rejected until those references or the list change."
            )
    return warnings


def _report(request: Request, service_call: Any) -> HTMLResponse:
    """Render a Test Connection report, or the error that kept it from running."""
    try:
        report = service_call()
    except PrizmError as error:
        return render(request, "integrations/_report.html", {"error": error})
    return render(request, "integrations/_report.html", {"report": report})


@router.get("")
def list_page(
    request: Request, principal: Viewer, saved: str = "", removed: str = ""
) -> HTMLResponse:
    notice = ""
    if saved:
        notice = f"Saved integration '{saved}'."
    elif removed:
        notice = f"Removed integration '{removed}'."
    return _list_page(request, notice=notice, saved=saved)


@router.get("/new")
def choose_type(request: Request, principal: Admin) -> HTMLResponse:
    return render(
        request,
        "integrations/types.html",
        {
            "section": "integrations",
            "kinds": list(PROVIDER_TYPES.values()),
            "descriptions": DESCRIPTIONS,
        },
    )


@router.get("/new/{type_name}")
def new_form(request: Request, type_name: str, principal: Admin) -> HTMLResponse:
    kind = provider_type(type_name)
    service = integrations(request)
    name = (
        "" if service.store.integrations.find(kind.default_name) else kind.default_name
    )
    return _form_page(request, kind, name=name, values={}, editing=False)


@router.post("/new/{type_name}")
def add(request: Request, type_name: str, form: Form, principal: Admin) -> Response:
    kind = provider_type(type_name)
    fields = integration_form(kind)
    values = form_values(form)
    name = text(form, "name").strip()
    try:
        record = integrations(request).add(
            kind.type_name,
            name or None,
            settings_from_form(fields, values),
            allowed_secrets=_patterns(form),
        )
    except PrizmError as error:
        return _form_page(
            request,
            kind,
            name=name,
            values=values,
            editing=False,
            error=error,
            test_secrets=text(form, "test_secrets"),
            allowed_secrets=text(form, "allowed_secrets"),
        )
    return RedirectResponse(
        f"/settings/integrations?saved={record.name}", status_code=303
    )


@router.post("/new/{type_name}/test")
def test_new(
    request: Request, type_name: str, form: Form, principal: Admin
) -> HTMLResponse:
    kind = provider_type(type_name)
    fields = integration_form(kind)
    settings = settings_from_form(fields, form_values(form))
    name = text(form, "name").strip() or kind.default_name
    service = integrations(request)
    return _report(
        request,
        lambda: service.test_unsaved(
            kind.type_name,
            name,
            settings,
            _secrets(text(form, "test_secrets")),
            _patterns(form),
        ),
    )


def _edit_values(service: IntegrationService, name: str) -> dict[str, Any]:
    return dict(service.get(name).settings)


@router.get("/{name}/edit")
def edit_form(request: Request, name: str, principal: Admin) -> HTMLResponse:
    service = integrations(request)
    record = service.get(name)
    return _form_page(
        request,
        provider_type(record.type),
        name=name,
        values=_edit_values(service, name),
        editing=True,
        stored_credentials=record.credential_fields,
        allowed_secrets="\n".join(record.allowed_secrets),
    )


@router.post("/{name}/edit")
def update(request: Request, name: str, form: Form, principal: Admin) -> Response:
    service = integrations(request)
    record = service.get(name)
    kind = provider_type(record.type)
    values = form_values(form)
    changes, clear = changes_from_form(integration_form(kind), values)
    try:
        patterns = service.check_patterns(_patterns(form))
        service.update(name, changes, clear=clear)
        # A form without the field (an older page) leaves the list unchanged.
        changed = tuple(patterns) != tuple(record.allowed_secrets)
        if "allowed_secrets" in form and changed:
            service.restrict(name, patterns)
    except PrizmError as error:
        return _form_page(
            request,
            kind,
            name=name,
            values=values,
            editing=True,
            error=error,
            stored_credentials=record.credential_fields,
            test_secrets=text(form, "test_secrets"),
            allowed_secrets=text(form, "allowed_secrets"),
        )
    return RedirectResponse(f"/settings/integrations?saved={name}", status_code=303)


@router.post("/{name}/edit/test")
def test_edited(
    request: Request, name: str, form: Form, principal: Admin
) -> HTMLResponse:
    service = integrations(request)
    kind = provider_type(service.get(name).type)
    changes, clear = changes_from_form(integration_form(kind), form_values(form))
    return _report(
        request,
        lambda: service.test_changes(
            name,
            changes,
            clear=clear,
            secrets=_secrets(text(form, "test_secrets")),
            # A form without the field tests with the stored list, as Save keeps it.
            allowed_secrets=_patterns(form) if "allowed_secrets" in form else None,
        ),
    )


@router.post("/{name}/test")
def test_saved(request: Request, name: str, principal: Admin) -> HTMLResponse:
    service = integrations(request)
    return _report(request, lambda: service.test(name))


@router.post("/{name}/delete")
def remove(request: Request, name: str, principal: Admin) -> Response:
    try:
        integrations(request).remove(name)
    except PrizmError as error:
        return _list_page(request, error=error)
    return RedirectResponse(f"/settings/integrations?removed={name}", status_code=303)

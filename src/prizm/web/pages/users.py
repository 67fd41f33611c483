"""Settings → Users: admins add, change and remove users of the console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prizm.errors import PrizmError
from prizm.users import ROLES
from prizm.web.api.deps import users
from prizm.web.pages.deps import Admin
from prizm.web.pages.forms import Form, text
from prizm.web.pages.render import render

__all__ = ["router"]

router = APIRouter(prefix="/settings/users", include_in_schema=False)


def _page(
    request: Request,
    *,
    notice: str = "",
    error: PrizmError | None = None,
    name: str = "",
    role: str = "viewer",
) -> HTMLResponse:
    service = users(request)
    return render(
        request,
        "users/list.html",
        {
            "section": "users",
            "users": service.all(),
            "tokens": service.tokens(),
            "roles": ROLES,
            "notice": notice,
            "error": error,
            "name": name,
            "role": role,
        },
        status_code=200 if error is None else error.http_status,
    )


@router.get("")
def list_page(
    request: Request,
    principal: Admin,
    added: str = "",
    removed: str = "",
    changed: str = "",
) -> HTMLResponse:
    notice = ""
    if added:
        notice = f"Added user '{added}'."
    elif removed:
        notice = f"Removed user '{removed}'."
    elif changed:
        notice = f"Changed user '{changed}'."
    return _page(request, notice=notice)


@router.post("")
def add(request: Request, form: Form, principal: Admin) -> Response:
    name = text(form, "name").strip()
    role = text(form, "role")
    try:
        users(request).add(name, role, text(form, "password"))
    except PrizmError as error:
        return _page(request, error=error, name=name, role=role)
    return RedirectResponse(f"/settings/users?added={name}", status_code=303)


@router.post("/update")
def update(request: Request, form: Form, principal: Admin) -> Response:
    name = text(form, "name")
    role = text(form, "role") or None
    password = text(form, "password") or None
    try:
        users(request).update(name, role=role, password=password)
    except PrizmError as error:
        return _page(request, error=error)
    return RedirectResponse(f"/settings/users?changed={name}", status_code=303)


@router.post("/{name}/delete")
def remove(request: Request, name: str, principal: Admin) -> Response:
    if name == principal.user.name:
        return _page(
            request,
            error=PrizmError(
                "You cannot remove the user you are signed in as.",
                hint="Sign in as another admin to remove this user.",
            ),
        )
    try:
        users(request).remove(name)
    except PrizmError as error:
        return _page(request, error=error)
    return RedirectResponse(f"/settings/users?removed={name}", status_code=303)

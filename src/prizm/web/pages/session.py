"""Signing in and out of the web console."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prizm.errors import CsrfFailed, InvalidLogin, PrizmError, TooManyAttempts
from prizm.users import USER_NAME
from prizm.web.api.deps import users
from prizm.web.auth import (
    LOGIN_CSRF_COOKIE,
    check_login_csrf,
    clear_session_cookie,
    current_principal,
    new_login_csrf,
    set_login_csrf,
    set_session_cookie,
)
from prizm.web.pages.deps import Viewer
from prizm.web.pages.forms import Form, text
from prizm.web.pages.render import render
from prizm.web.ratelimit import LoginLimiter

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Return ``target`` if it is a path on this site, else the start page."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _logged_name(request: Request, name: str) -> str:
    """Return a submitted user name for the log, or only its length when it names
    no user, because people type passwords into the name field."""
    if not USER_NAME.fullmatch(name):
        return f"(invalid name, {len(name)} characters)"
    if users(request).store.users.find(name) is None:
        return f"(unknown user, {len(name)} characters)"
    return name


def _login_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: PrizmError | None = None,
) -> HTMLResponse:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "next": next_path,
            "username": username,
            "error": error,
        },
        status_code=200 if error is None else error.http_status,
    )
    set_login_csrf(response, request, token)
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@router.get("/")
def home(request: Request, principal: Viewer) -> Response:
    return RedirectResponse("/connectors", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if current_principal(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    request.state.principal = None
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    """Check the form's CSRF token and the rate limits, then the password."""
    request.state.principal = None
    username = text(form, "username").strip()
    next_path = _safe_next(text(form, "next") or "/")
    limiter: LoginLimiter = request.app.state.limiter
    address = request.client.host if request.client else "unknown"
    try:
        check_login_csrf(request, text(form, "csrf_token"))
        limiter.check(username, address)
        try:
            user = users(request).authenticate(username, text(form, "password"))
        except InvalidLogin:
            limiter.failed(username, address)
            log.warning(
                "sign-in failed user=%s address=%s",
                _logged_name(request, username),
                address,
            )
            raise
    except (CsrfFailed, InvalidLogin, TooManyAttempts) as error:
        return _login_page(request, next_path=next_path, username=username, error=error)
    limiter.succeeded(username)
    _, token = users(request).start_session(user)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    log.info("signed in user=%s address=%s", user.name, address)
    return response


@router.post("/logout")
def logout(request: Request, principal: Viewer) -> Response:
    if principal.session is not None:
        users(request).end_session(principal.session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response

"""Request authentication, role checks and CSRF protection.

A request is authenticated by an API token (``Authorization: Bearer``) or by the
session cookie of a signed-in browser. Every state-changing request that relies on
the session cookie must carry the session's CSRF token, in the ``csrf_token`` form
field or the ``X-CSRF-Token`` header (the synchronizer token pattern). Requests with
a bearer token are exempt, because a browser never adds that header by itself.

The sign-in form has no session yet, so it uses a double-submit token: a random
value in a short-lived cookie and in a hidden field, which must match.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from prizm.audit import set_actor
from prizm.errors import CsrfFailed, NotAuthenticated, PermissionDenied
from prizm.store.store import Store
from prizm.store.users import SessionRecord, UserRecord
from prizm.users import Role, UserService, has_role

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "Principal",
    "clear_session_cookie",
    "current_principal",
    "new_login_csrf",
    "require",
    "set_login_csrf",
    "set_session_cookie",
]

SESSION_COOKIE = "prizm_session"
LOGIN_CSRF_COOKIE = "prizm_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Principal:
    """The user behind a request, and their session when they came by cookie."""

    user: UserRecord
    session: SessionRecord | None = None

    @property
    def csrf_token(self) -> str:
        return "" if self.session is None else self.session.csrf_token

    def allows(self, role: Role) -> bool:
        return has_role(self.user.role, role)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def is_secure(request: Request) -> bool:
    """Return whether the request came over https (directly or via a proxy)."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )


def new_login_csrf() -> str:
    """Return a new token for the sign-in form and its cookie."""
    return secrets.token_urlsafe(32)


def set_login_csrf(response: Response, request: Request, token: str) -> None:
    """Set the sign-in form's double-submit cookie (SameSite=Strict, HttpOnly)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
        path="/login",
    )


def check_login_csrf(request: Request, submitted: str) -> None:
    """Raise ``CsrfFailed`` unless the sign-in form's token matches its cookie."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, submitted):
        raise CsrfFailed(
            "The sign-in form expired or did not come from this site.",
            hint="Reload the sign-in page and try again.",
        )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated(
            "The Authorization header is not 'Bearer <token>'.",
            hint="Send an API token from 'prizm token create' as a bearer token.",
        )
    return token.strip()


def current_principal(request: Request) -> Principal | None:
    """Return who sent the request, or None when it carries no credentials.

    Raises ``NotAuthenticated`` for a bearer token that is unknown or revoked.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    users = UserService(_store(request))
    principal: Principal | None = None
    token = _bearer(request)
    if token is not None:
        user = users.user_for_token(token)
        if user is None:
            raise NotAuthenticated(
                "The API token is invalid or was revoked.",
                hint="Create a new one with: prizm token create NAME.",
            )
        principal = Principal(user)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        signed_in = None if cookie is None else users.session(cookie)
        if signed_in is not None:
            principal = Principal(signed_in.user, signed_in.session)
    request.state.principal = principal
    return principal


async def check_csrf(request: Request, principal: Principal) -> None:
    """Raise ``CsrfFailed`` when a cookie-authenticated change lacks the token."""
    if request.method in SAFE_METHODS or principal.session is None:
        return
    submitted = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if submitted is None and content_type.startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not submitted or not hmac.compare_digest(
        submitted, principal.session.csrf_token
    ):
        raise CsrfFailed(
            "The request lacks this session's CSRF token, so it was rejected.",
            hint="Reload the page and submit the form again.",
        )


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """Return a dependency that admits users with ``role`` or above.

    It raises ``NotAuthenticated`` without credentials, ``PermissionDenied`` for a
    lower role and ``CsrfFailed`` for a state change without the CSRF token.
    """

    async def dependency(request: Request) -> Principal:
        principal = await run_in_threadpool(current_principal, request)
        if principal is None:
            raise NotAuthenticated(
                "Sign in, or send an API token as 'Authorization: Bearer <token>'.",
                hint="Create a token with: prizm token create NAME.",
            )
        await check_csrf(request, principal)
        if not principal.allows(role):
            raise PermissionDenied(
                f"User '{principal.user.name}' has the {principal.user.role} "
                f"role, and this needs the {role} role.",
                hint="Ask an admin to change your role.",
            )
        # Audit events of this request name the signed-in user.
        set_actor(f"web:{principal.user.name}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency

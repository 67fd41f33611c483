"""Turning errors into responses: JSON for the API, pages for the console.

API errors have the command line's JSON shape, ``{"error": {"code", "message"}}``,
with the error's HTTP status. Messages pass through ``redaction.scrub`` and request
validation errors never repeat the submitted input, which may be a secret.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from prizm import redaction
from prizm.errors import NotAuthenticated, PrizmError, TooManyAttempts

__all__ = ["error_body", "install_error_handlers", "wants_json"]

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def wants_json(request: Request) -> bool:
    """Return whether the request is for the API rather than a console page."""
    path = request.url.path
    return path.startswith("/api/") or path in ("/metrics", "/healthz")


def error_body(code: str, message: str, extra: dict[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {"code": code, "message": redaction.scrub(message)}
    data.update(extra or {})
    return {"error": data}


def _headers(error: PrizmError, api: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after)
    if api and error.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="prizm"'
    return headers


def _page_error(request: Request, status: int, code: str, message: str) -> Response:
    from prizm.web.pages.render import render_error

    return render_error(request, status, code, redaction.scrub(message))


async def _prizm_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PrizmError)
    api = wants_json(request)
    headers = _headers(exc, api)
    if api:
        data = exc.to_dict()
        code, message = data.pop("code"), data.pop("message")
        return JSONResponse(
            error_body(code, message, data), exc.http_status, headers=headers
        )
    if isinstance(exc, NotAuthenticated) and request.method == "GET":
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    response = _page_error(request, exc.http_status, exc.code, exc.text)
    response.headers.update(headers)
    return response


def _describe_validation(exc: RequestValidationError) -> str:
    problems = []
    for item in exc.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        field = ".".join(location)
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        problems.append(f"{field}: {message}" if field else message)
    return "; ".join(problems) or "the request is invalid"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message = f"The request is invalid: {_describe_validation(exc)}."
    if wants_json(request):
        return JSONResponse(error_body("invalid_request", message), 422)
    return _page_error(request, 422, "invalid_request", message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404:
        message = f"Nothing is at {request.url.path}."
    headers = dict(exc.headers or {})
    if wants_json(request):
        return JSONResponse(error_body(code, message), exc.status_code, headers=headers)
    return _page_error(request, exc.status_code, code, message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The exception text may quote a driver or SDK message, so the message names
    # only its class. The redacting log filter masks any known value in the trace.
    log.error(
        "unexpected error path=%s error=%s",
        request.url.path,
        exc.__class__.__name__,
        exc_info=exc,
    )
    message = f"Unexpected {exc.__class__.__name__}; see the server log."
    if wants_json(request):
        return JSONResponse(error_body("internal_error", message), 500)
    return _page_error(request, 500, "internal_error", message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PrizmError, _prizm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

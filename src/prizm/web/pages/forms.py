"""Reading submitted forms in page handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

__all__ = ["Form", "form_values", "text"]


async def _form(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(_form)]
"""The submitted form, parsed once (the CSRF check reads the same copy)."""


def form_values(form: FormData) -> dict[str, str | list[str]]:
    """Return text fields; a field given several times becomes a list."""
    values: dict[str, str | list[str]] = {}
    for key in form:
        items = [item for item in form.getlist(key) if isinstance(item, str)]
        if not items:
            continue
        values[key] = items[0] if len(items) == 1 else items
    return values


def text(form: FormData, name: str) -> str:
    """Return one text field, or an empty string when it is missing."""
    value = form.get(name)
    return value if isinstance(value, str) else ""

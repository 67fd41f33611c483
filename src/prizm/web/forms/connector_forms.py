"""Connector forms generated from each connector type's ``FieldSpec``s.

A secret field takes only a ``vault://`` reference, so its input is a text input
with the reference format as a hint. When a form is shown again after an error, a
secret field keeps its value only if that value is a reference: a literal typed by
mistake may be a password and is never sent back to the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prizm.connectors.base import ConnectorType, FieldSpec
from prizm.references import is_reference

__all__ = ["ConnectorField", "connector_form", "reference_hint"]

INPUT_TYPES = {
    "text": "text",
    "integer": "number",
    "url": "url",
    "email": "email",
    "choice": "select",
    "pem": "textarea",
}


def reference_hint(integration: str) -> str:
    """Return the reference format shown next to a secret field."""
    return f"vault://{integration}/<secret-name>#<json-key>"


@dataclass(frozen=True)
class ConnectorField:
    """One input of a connector form, with the value to show."""

    spec: FieldSpec
    input_type: str
    value: str
    placeholder: str

    @property
    def optional(self) -> bool:
        return not self.spec.required or self.spec.default is not None


def connector_form(
    kind: ConnectorType, values: Mapping[str, str], integration: str = "aws"
) -> list[ConnectorField]:
    """Return the inputs of a connector type, filled with ``values``."""
    fields = []
    for spec in kind.fields:
        value = values.get(spec.name, "")
        if spec.secret and value and not is_reference(value):
            value = ""
        if spec.secret:
            placeholder = reference_hint(integration)
        else:
            placeholder = spec.default or ""
        input_type = "text" if spec.secret else INPUT_TYPES.get(spec.kind, "text")
        fields.append(ConnectorField(spec, input_type, value, placeholder))
    return fields

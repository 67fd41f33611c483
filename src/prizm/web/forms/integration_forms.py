"""Integration forms generated from each type's pydantic settings model.

Each model field becomes a form field: ``Literal`` types become a select, a tuple
of literals a group of checkboxes, ``bool`` a checkbox, numbers a number input and
credentials (``ProviderType.credential_fields`` or ``SecretStr``) a password input
that is always rendered empty. ``layouts.LAYOUTS`` adds labels and grouping.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from prizm.providers.base import ProviderType
from prizm.web.forms.layouts import LAYOUTS, Layout

__all__ = [
    "FormField",
    "Widget",
    "changes_from_form",
    "integration_form",
    "settings_from_form",
]

Widget = Literal["text", "password", "select", "checkbox", "checkboxes", "number"]
FormValues = Mapping[str, str | Sequence[str]]
"""Submitted form data: one string per field, a list for checkbox groups."""


@dataclass(frozen=True)
class FormField:
    """One input of an integration form."""

    name: str
    label: str
    widget: Widget
    required: bool
    default: Any
    help: str
    choices: tuple[tuple[str, str], ...]
    secret: bool
    advanced: bool
    optional_tag: bool
    placeholder: str = ""
    show_when: tuple[str, tuple[str, ...]] | None = None

    def to_dict(self) -> dict[str, Any]:
        default = self.default
        if isinstance(default, tuple):
            default = list(default)
        return {
            "name": self.name,
            "label": self.label,
            "widget": self.widget,
            "required": self.required,
            "default": None if self.secret else default,
            "help": self.help,
            "choices": [{"value": v, "label": label} for v, label in self.choices],
            "secret": self.secret,
            "advanced": self.advanced,
            "placeholder": self.placeholder,
            "show_when": None
            if self.show_when is None
            else {"field": self.show_when[0], "values": list(self.show_when[1])},
        }

    def visible(self, values: FormValues) -> bool:
        """Return whether the field applies, given the submitted values."""
        if self.show_when is None:
            return True
        controller, allowed = self.show_when
        return str(values.get(controller, "")) in allowed


def _without_none(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is (
        typing.Union
    ):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _widget(annotation: Any, secret: bool) -> tuple[Widget, tuple[str, ...]]:
    core = _without_none(annotation)
    origin = typing.get_origin(core)
    if secret or core is SecretStr:
        return "password", ()
    if origin is Literal:
        return "select", tuple(str(arg) for arg in typing.get_args(core))
    if origin is tuple:
        member = typing.get_args(core)[0]
        if typing.get_origin(member) is Literal:
            return "checkboxes", tuple(str(arg) for arg in typing.get_args(member))
    if core is bool:
        return "checkbox", ()
    if core in (int, float):
        return "number", ()
    return "text", ()


def _label(name: str, layout: Layout) -> str:
    if name in layout.labels:
        return layout.labels[name]
    return name.replace("_", " ").capitalize()


def _field(name: str, info: FieldInfo, kind: ProviderType, layout: Layout) -> FormField:
    secret = name in kind.credential_fields
    widget, choices = _widget(info.annotation, secret)
    if widget == "password":
        secret = True
    default = None if info.default is PydanticUndefined else info.default
    required = info.is_required()
    show_when = layout.show_when.get(name)
    labels = layout.choice_labels.get(name, {})
    return FormField(
        name=name,
        label=_label(name, layout),
        widget=widget,
        required=required,
        default=default,
        help=layout.help.get(name) or info.description or "",
        choices=tuple((choice, labels.get(choice, choice)) for choice in choices),
        secret=secret,
        advanced=name in layout.advanced,
        optional_tag=not required
        and default is None
        and show_when is None
        and not secret,
        placeholder=layout.placeholders.get(name, ""),
        show_when=show_when,
    )


def integration_form(kind: ProviderType) -> list[FormField]:
    """Return the form fields of an integration type, in display order."""
    layout = LAYOUTS.get(kind.type_name, Layout())
    model_fields = kind.settings_model.model_fields
    ordered = [name for name in layout.main if name in model_fields]
    ordered += [
        name
        for name in model_fields
        if name not in ordered and name not in layout.advanced
    ]
    ordered += [name for name in layout.advanced if name in model_fields]
    return [_field(name, model_fields[name], kind, layout) for name in ordered]


def _value(field: FormField, values: FormValues) -> Any:
    raw = values.get(field.name)
    if field.widget == "checkbox":
        return raw not in (None, "", "off", "false")
    if field.widget == "checkboxes":
        if raw is None or raw == "":
            return ()
        return (raw,) if isinstance(raw, str) else tuple(raw)
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw
    elif raw:
        text = raw[0]
    else:
        text = ""
    return text if field.secret else text.strip()


def settings_from_form(
    fields: Sequence[FormField], values: FormValues
) -> dict[str, Any]:
    """Return the settings of a new integration from submitted form values.

    Empty inputs and fields hidden for the chosen options are left out, so the
    model's defaults apply.
    """
    settings: dict[str, Any] = {}
    for field in fields:
        if not field.visible(values):
            continue
        value = _value(field, values)
        if value is False or value in (None, "", ()):
            continue
        settings[field.name] = value
    return settings


def changes_from_form(
    fields: Sequence[FormField], values: FormValues
) -> tuple[dict[str, Any], list[str]]:
    """Return the changes and the fields to clear for an edited integration.

    An empty credential input keeps the stored credential. Any other empty input,
    and every field hidden for the chosen options, is cleared.
    """
    changes: dict[str, Any] = {}
    clear: list[str] = []
    for field in fields:
        if not field.visible(values):
            clear.append(field.name)
            continue
        value = _value(field, values)
        if field.secret and value in (None, ""):
            continue
        if value in (None, "", ()):
            clear.append(field.name)
            continue
        changes[field.name] = value
    return changes, clear

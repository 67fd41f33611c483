"""The ``vault://`` reference grammar and key lookup in a fetched secret.

    vault://<integration>/<secret-name>[?<option>=<value>[&...]][#<key>]

* ``<integration>`` is the name of a configured integration.
* ``<secret-name>`` is everything up to the first ``?`` or ``#``, taken verbatim:
  slashes, ``+``, ``=``, ``@``, ``%`` and case are part of the name and nothing is
  decoded. A full AWS ARN is a valid name.
* ``<option>`` selects a version; which options apply depends on the integration type.
* ``<key>`` is everything after the first ``#``, verbatim, so keys may contain ``#``.

Parsing is pure: it does no I/O and does not check that the integration exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from prizm.errors import EmptyValue, InvalidReference, KeyNotFound, NotJson, NullValue

__all__ = [
    "EXPECTED_FORM",
    "KNOWN_OPTIONS",
    "MAX_REFERENCE_LENGTH",
    "SCHEME",
    "LoadedDocument",
    "LookupContext",
    "Reference",
    "extract_value",
    "is_reference",
    "load_document",
    "parse_reference",
    "select_value",
]

SCHEME = "vault://"
EXPECTED_FORM = "vault://<integration>/<secret-name>[?<option>=<value>][#<key>]"
MAX_REFERENCE_LENGTH = 4096
KNOWN_OPTIONS = frozenset({"version-stage", "version-id", "version"})
INTEGRATION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed ``vault://`` reference. ``str()`` gives back the exact text parsed."""

    integration: str
    name: str
    options: tuple[tuple[str, str], ...] = ()
    key: str | None = None

    def option(self, name: str) -> str | None:
        """Return the value of option ``name``, or None when it is not given."""
        for option_name, value in self.options:
            if option_name == name:
                return value
        return None

    def without_key(self) -> Reference:
        """Return this reference with no ``#key``: the whole secret."""
        return Reference(self.integration, self.name, self.options, None)

    def __str__(self) -> str:
        text = f"{SCHEME}{self.integration}/{self.name}"
        if self.options:
            text += "?" + "&".join(f"{name}={value}" for name, value in self.options)
        if self.key is not None:
            text += "#" + self.key
        return text


def is_reference(text: str) -> bool:
    """Return whether a field value is meant as a reference (starts with ``vault:``)."""
    return text.strip().lower().startswith("vault:")


def _invalid(text: str, problem: str) -> InvalidReference:
    if not is_reference(text):
        # Text that does not even start like a reference may be a pasted value.
        return InvalidReference(
            f"Invalid reference ({len(text)} characters, not shown because it may "
            f"be a secret): {problem}.",
            hint=f"Write it as {EXPECTED_FORM}, for example "
            "vault://aws/prizm/snowflake#password.",
        )
    shown = text if len(text) <= 200 else text[:200] + "..."
    return InvalidReference(
        f"Invalid reference {shown!r}: {problem}.",
        hint=f"Write it as {EXPECTED_FORM}, for example "
        "vault://aws/prizm/snowflake#password.",
        reference=shown,
    )


def parse_reference(text: str) -> Reference:
    """Parse ``text`` into a ``Reference`` or raise ``InvalidReference``.

    The error shows the expected form. Option names are checked against every option
    any integration type knows; each provider then checks the ones it accepts.
    """
    if not isinstance(text, str):
        raise _invalid(repr(text), "a reference must be text")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise _invalid(text, f"it is longer than {MAX_REFERENCE_LENGTH} characters")
    if text != text.strip():
        raise _invalid(text, "it starts or ends with whitespace")
    if _CONTROL.search(text):
        raise _invalid(text, "it contains a control character")
    if not text.startswith(SCHEME):
        if text.lower().startswith(SCHEME):
            raise _invalid(text, "the scheme must be written in lowercase as vault://")
        raise _invalid(text, "it must start with vault://")

    rest = text[len(SCHEME) :]
    key: str | None = None
    if "#" in rest:
        rest, key = rest.split("#", 1)
        if key == "":
            raise _invalid(text, "the key after '#' is empty")
    query: str | None = None
    if "?" in rest:
        rest, query = rest.split("?", 1)
    if "/" not in rest:
        raise _invalid(text, "the secret name after the integration is missing")
    integration, name = rest.split("/", 1)

    if integration == "":
        raise _invalid(text, "the integration name is empty")
    if not INTEGRATION_NAME.fullmatch(integration):
        raise _invalid(
            text,
            f"the integration name {integration!r} may contain only lowercase "
            "letters, digits, '-' and '_' (at most 63 characters)",
        )
    if name == "":
        raise _invalid(text, "the secret name is empty")

    options = _parse_options(text, query)
    return Reference(integration, name, options, key)


def _parse_options(text: str, query: str | None) -> tuple[tuple[str, str], ...]:
    if query is None:
        return ()
    if query == "":
        raise _invalid(text, "the option list after '?' is empty")
    options: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in query.split("&"):
        name, sep, value = item.partition("=")
        if not sep or name == "":
            raise _invalid(text, f"option {item!r} must have the form name=value")
        if value == "":
            raise _invalid(text, f"option {name!r} has an empty value")
        if name not in KNOWN_OPTIONS:
            known = ", ".join(sorted(KNOWN_OPTIONS))
            raise _invalid(text, f"unknown option {name!r} (known options: {known})")
        if name in seen:
            raise _invalid(text, f"option {name!r} is given twice")
        seen.add(name)
        options.append((name, value))
    return tuple(options)


@dataclass(frozen=True, slots=True)
class LookupContext:
    """What an error about a fetched value names: reference, integration, location."""

    reference: str
    integration: str
    location: str

    def where(self) -> str:
        return (
            f"for {self.reference} (integration '{self.integration}', {self.location})"
        )

    def fields(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "integration": self.integration,
            "location": self.location,
        }


class _JsonNumber(str):
    """A JSON number kept as its original text, so ``5432`` is never ``5432.0``."""

    __slots__ = ()


_MISSING = object()
MAX_KEY_NAMES_SHOWN = 20


def _load_json(document: str) -> tuple[Any, tuple[int, int] | None]:
    """Parse JSON keeping numbers as text. Returns the value or the error position.

    The error position is returned instead of raised so that no ``JSONDecodeError``,
    which carries the whole document, is ever attached to a Prizm error as its cause
    or context.
    """
    try:
        value = json.loads(
            document,
            parse_int=_JsonNumber,
            parse_float=_JsonNumber,
            parse_constant=_JsonNumber,
        )
    except json.JSONDecodeError as exc:
        return None, (exc.lineno, exc.colno)
    except RecursionError:
        return None, (0, 0)
    return value, None


def _to_text(value: Any) -> str:
    """Render a JSON value: strings as is, scalars as JSON text, the rest compact."""
    if isinstance(value, _JsonNumber):
        return str.__str__(value)
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _compact(value)


def _compact(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, _JsonNumber):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "[" + ",".join(_compact(item) for item in value) + "]"
    items = (
        json.dumps(name, ensure_ascii=False) + ":" + _compact(item)
        for name, item in value.items()
    )
    return "{" + ",".join(items) + "}"


def _follow_pointer(document: dict[str, Any], pointer: str) -> Any:
    """Follow an RFC 6901 JSON Pointer; return ``_MISSING`` when it leads nowhere."""
    node: Any = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list):
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(node):
                return _MISSING
            node = node[int(token)]
        else:
            return _MISSING
    return node


MAX_PATH_SEGMENTS = 64


def _follow_dotted(document: dict[str, Any], key: str) -> Any:
    """Follow a dotted path through nested objects; return ``_MISSING`` if none.

    Nested keys may contain dots themselves (``a.b.c`` can mean ``{"a": {"b.c": ..}}``),
    so each level tries the longest matching run of segments first. Failed states are
    remembered, which keeps the search polynomial for any input.
    """
    parts = key.split(".")
    if len(parts) < 2 or len(parts) > MAX_PATH_SEGMENTS:
        return _MISSING
    failed: set[tuple[int, int]] = set()

    def walk(node: Any, start: int, depth: int) -> Any:
        if start == len(parts):
            return node if depth > 1 else _MISSING
        if not isinstance(node, dict) or (start, id(node)) in failed:
            return _MISSING
        for end in range(len(parts), start, -1):
            segment = ".".join(parts[start:end])
            if segment in node:
                found = walk(node[segment], end, depth + 1)
                if found is not _MISSING:
                    return found
        failed.add((start, id(node)))
        return _MISSING

    return walk(document, 0, 0)


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A secret document with its JSON parsed once, for several keys."""

    text: str = field(repr=False)
    parsed: Any = field(repr=False)
    error_position: tuple[int, int] | None


def load_document(document: str) -> LoadedDocument:
    """Parse ``document`` as JSON once; the error position is kept, not raised."""
    parsed, error_position = _load_json(document)
    return LoadedDocument(document, parsed, error_position)


def extract_value(document: str, key: str | None, context: LookupContext) -> str:
    """Return the text a reference selects from a fetched secret document.

    See ``select_value``; this parses the document first when a key is given.
    """
    if key is None:
        return select_value(LoadedDocument(document, None, None), None, context)
    return select_value(load_document(document), key, context)


def select_value(
    loaded: LoadedDocument, key: str | None, context: LookupContext
) -> str:
    """Return the text a reference selects from a fetched secret document.

    Without a key, the whole document. With a key, the document must be a JSON
    object. The key is tried as an exact top-level key, then (if it starts with ``/``)
    as an RFC 6901 JSON Pointer, then as a dotted path. Strings are returned exactly,
    numbers and booleans as their JSON text, objects and arrays as compact JSON.

    Raises ``NotJson``, ``KeyNotFound``, ``NullValue`` or ``EmptyValue``. No error
    contains any part of the document other than key names.
    """
    document = loaded.text
    if key is None:
        if document == "":
            raise EmptyValue(
                f"The secret is an empty string {context.where()}.",
                hint="Store a value in the secret, or point the reference at another "
                "secret.",
                **context.fields(),
            )
        return document

    parsed, error_position = loaded.parsed, loaded.error_position
    if error_position is not None:
        line, column = error_position
        raise NotJson(
            f"The secret is not valid JSON (parse error at line {line}, column "
            f"{column}) {context.where()}, so the key {key!r} cannot be looked up.",
            hint="Store the secret as a JSON object, or remove the '#key' part to use "
            "the whole secret string.",
            **context.fields(),
        )
    if not isinstance(parsed, dict):
        kind = _json_kind(parsed)
        raise NotJson(
            f"The secret is JSON but not an object (it is {kind}) {context.where()}, "
            f"so the key {key!r} cannot be looked up.",
            hint="Store the secret as a JSON object, or remove the '#key' part to use "
            "the whole secret string.",
            **context.fields(),
        )

    value = parsed.get(key, _MISSING)
    if value is _MISSING and key.startswith("/"):
        value = _follow_pointer(parsed, key)
    if value is _MISSING:
        value = _follow_dotted(parsed, key)
    if value is _MISSING:
        raise KeyNotFound(
            f"The secret has no key {key!r} {context.where()}. "
            f"Its top-level keys are {_key_names(parsed)}.",
            hint="Fix the '#key' part of the reference, or add the key to the secret.",
            **context.fields(),
        )
    if value is None:
        raise NullValue(
            f"The key {key!r} is null in the secret {context.where()}.",
            hint="Store a value for the key in the secret.",
            **context.fields(),
        )
    text = _to_text(value)
    if text == "":
        raise EmptyValue(
            f"The key {key!r} is an empty string in the secret {context.where()}.",
            hint="Store a value for the key in the secret.",
            **context.fields(),
        )
    return text


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, _JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null"


def _key_names(document: dict[str, Any]) -> str:
    if not document:
        return "none (the object is empty)"
    names = [repr(name) for name in list(document)[:MAX_KEY_NAMES_SHOWN]]
    more = len(document) - len(names)
    suffix = f" and {more} more" if more > 0 else ""
    return ", ".join(names) + suffix

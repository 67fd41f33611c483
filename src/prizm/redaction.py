"""The process-wide registry of secret values to mask in any text Prizm emits.

Every ``SecretValue`` registers its text here when it is created. ``scrub()`` replaces
each registered value in a string with ``********``, in the forms drivers, HTTP
libraries and loggers tend to echo it: raw, percent-encoded, JSON- and repr-escaped,
and base64 (also where the value sits inside a longer base64 string, such as a Basic
authorization header). The logging filter and every driver error pass through it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MAX_VALUES", "MIN_LENGTH", "clear", "register", "scrub", "variants"]

MASK = "********"

MIN_LENGTH = 4
"""Values shorter than this are not masked in free text.

NOTE: masking a two-character password would garble every log line that contains
those two characters, so very short values are only protected by the masked
``SecretValue`` type, not by scrubbing.
"""

_lock = threading.Lock()


def _base64_cores(raw: bytes) -> Iterable[str]:
    """Yield the base64 characters that depend only on ``raw`` at each alignment.

    A value embedded in a longer byte string starts at offset 0, 1 or 2 of a 3-byte
    group. At offset k the characters for the groups lying wholly inside the value are
    fixed, whatever bytes surround it.
    """
    for offset in range(3):
        padded = b"\0" * offset + raw
        encoded = base64.b64encode(padded).decode("ascii")
        first_group = -(-offset // 3)
        end_group = len(padded) // 3
        core = encoded[4 * first_group : 4 * end_group]
        if len(core) >= 8:
            yield core
            yield core.replace("+", "-").replace("/", "_")


def variants(value: str) -> set[str]:
    """Return the forms of ``value`` that ``scrub()`` masks."""
    raw = value.encode("utf-8")
    forms = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        base64.b64encode(raw).decode("ascii").rstrip("="),
    }
    forms.update(_base64_cores(raw))
    return {form for form in forms if len(form) >= MIN_LENGTH}


MAX_VALUES = 10000
"""How many values the registry keeps; the oldest are forgotten first.

NOTE: a process that resolves more distinct values than this (a long-lived worker
over many rotations) no longer masks the oldest ones in free text. Those are
values no current run uses; ``SecretValue`` still prints masked whatever its age.
"""

PREFIX_WIDTHS = (16, 8, MIN_LENGTH)
"""Forms are indexed by their first 16, 8 or 4 characters, the longest that fits,
so values that share a short prefix (AWS session tokens share 16) stay apart."""

_values: OrderedDict[str, frozenset[str]] = OrderedDict()
_form_counts: dict[str, int] = {}
_by_prefix: dict[int, dict[str, set[str]]] = {width: {} for width in PREFIX_WIDTHS}


def _width(form: str) -> int:
    return next(width for width in PREFIX_WIDTHS if len(form) >= width)


def _add_forms(forms: frozenset[str]) -> None:
    for form in forms:
        count = _form_counts.get(form, 0)
        _form_counts[form] = count + 1
        if count == 0:
            width = _width(form)
            _by_prefix[width].setdefault(form[:width], set()).add(form)


def _remove_forms(forms: frozenset[str]) -> None:
    for form in forms:
        count = _form_counts.get(form, 0) - 1
        if count > 0:
            _form_counts[form] = count
            continue
        _form_counts.pop(form, None)
        width = _width(form)
        index = _by_prefix[width]
        bucket = index.get(form[:width])
        if bucket is not None:
            bucket.discard(form)
            if not bucket:
                del index[form[:width]]


NOT_SECRET = frozenset({"null", "true", "false"})
"""JSON literals: a secret that is just one of these carries nothing to hide, and
masking them would garble messages such as "(it is null)"."""


def register(value: str) -> None:
    """Add ``value`` to the registry so ``scrub()`` masks it from now on."""
    if len(value) < MIN_LENGTH or value in NOT_SECRET:
        return
    with _lock:
        if value in _values:
            _values.move_to_end(value)
            return
    forms = frozenset(variants(value))
    with _lock:
        if value in _values:
            return
        _values[value] = forms
        _add_forms(forms)
        while len(_values) > MAX_VALUES:
            _, old_forms = _values.popitem(last=False)
            _remove_forms(old_forms)


def clear() -> None:
    """Forget every registered value. Tests use this between cases."""
    with _lock:
        _values.clear()
        _form_counts.clear()
        for index in _by_prefix.values():
            index.clear()


def scrub(text: str) -> str:
    """Return ``text`` with every registered value, in any known form, masked.

    Forms are indexed by their prefixes, so the cost is three lookups per character
    of ``text``, whatever the number of registered values. At each position the
    longest matching form is masked.
    """
    if not text or not _form_counts:
        return text
    indexes = [(width, _by_prefix[width]) for width in PREFIX_WIDTHS]
    pieces: list[str] = []
    start = 0
    index = 0
    limit = len(text) - MIN_LENGTH + 1
    while index < limit:
        found: str | None = None
        for width, prefixes in indexes:
            bucket = prefixes.get(text[index : index + width])
            if bucket:
                matching = [f for f in tuple(bucket) if text.startswith(f, index)]
                if matching:
                    found = max(matching, key=len)
                    break
        if found is not None:
            pieces.append(text[start:index])
            pieces.append(MASK)
            index += len(found)
            start = index
            continue
        index += 1
    if not pieces:
        return text
    pieces.append(text[start:])
    return "".join(pieces)

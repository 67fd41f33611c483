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
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MIN_LENGTH", "clear", "register", "scrub", "variants"]

MASK = "********"

MIN_LENGTH = 4
"""Values shorter than this are not masked in free text.

NOTE: masking a two-character password would garble every log line that contains
those two characters, so very short values are only protected by the masked
``SecretValue`` type, not by scrubbing.
"""

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


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


def register(value: str) -> None:
    """Add ``value`` to the registry so ``scrub()`` masks it from now on."""
    global _pattern
    if len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        _pattern = None


def clear() -> None:
    """Forget every registered value. Tests use this between cases."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _values:
            forms: set[str] = set()
            for value in _values:
                forms |= variants(value)
            # Longest first, so a form that contains another is masked whole.
            ordered = sorted(forms, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(form) for form in ordered))
        return _pattern


def scrub(text: str) -> str:
    """Return ``text`` with every registered value, in any known form, masked."""
    pattern = _compiled()
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)

"""Allowed secrets per integration: which secret names its references may name.

An integration's identity can usually read many secrets. Its allowed list narrows
what connectors may reference through it, so a person who can edit a connector
cannot point a field at any secret the role can read. An empty list allows
everything (and Prizm warns about it).

Pattern forms, matched against the secret's name (for AWS ARNs, the name part; for
Key Vault, case-insensitively):

* ``prizm/*`` or ``team-?-db``: a glob, where ``*`` matches any characters including
  ``/`` and ``?`` one character;
* ``secret/prizm/``: a prefix (the pattern ends with ``/``);
* anything else: the exact name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "MAX_PATTERNS",
    "check_patterns",
    "matches",
    "request_allowed",
    "suggested_pattern",
    "unrestricted_warning",
]

MAX_PATTERNS = 100
MAX_PATTERN_LENGTH = 512
_UNSAFE_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)|//")

SUGGESTIONS = {"aws": "prizm/*", "hashicorp": "secret/prizm/*", "azure": "prizm-*"}


def suggested_pattern(type_name: str) -> str:
    """Return the prefix pattern suggested for a new integration of ``type_name``."""
    return SUGGESTIONS.get(type_name, "prizm/*")


def unrestricted_warning(name: str, type_name: str) -> str:
    """Return the warning shown for an integration with an empty allowed list."""
    return (
        f"Integration '{name}' allows every secret its identity can read, so anyone "
        "who can edit a connector can reference any of them. Restrict it to the "
        f"secrets Prizm needs, for example '{suggested_pattern(type_name)}'."
    )


def check_patterns(patterns: Sequence[str]) -> list[str]:
    """Validate allowed-secret patterns; raise ``ValueError`` naming the bad one."""
    if len(patterns) > MAX_PATTERNS:
        raise ValueError(f"at most {MAX_PATTERNS} allowed-secret patterns may be set")
    cleaned: list[str] = []
    for pattern in patterns:
        if not pattern or pattern != pattern.strip():
            raise ValueError(
                f"the pattern {pattern!r} is empty or has surrounding spaces"
            )
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(
                f"a pattern may be at most {MAX_PATTERN_LENGTH} characters"
            )
        if any(ord(character) < 32 for character in pattern):
            raise ValueError(f"the pattern {pattern!r} contains a control character")
        if pattern not in cleaned:
            cleaned.append(pattern)
    return cleaned


@lru_cache(maxsize=1024)
def _compiled(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    if "*" in pattern or "?" in pattern:
        body = "".join(
            ".*" if part == "*" else "." if part == "?" else re.escape(part)
            for part in re.split(r"([*?])", pattern)
        )
    elif pattern.endswith("/"):
        body = re.escape(pattern) + ".*"
    else:
        body = re.escape(pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(body, flags | re.DOTALL)


def matches(name: str, patterns: Sequence[str], *, case_sensitive: bool = True) -> bool:
    """Return whether ``name`` is allowed by ``patterns`` (an empty list allows all).

    A name with ``.`` or ``..`` path segments or an empty segment is never allowed by
    a non-empty list, so a path cannot climb out of an allowed prefix.
    """
    if not patterns:
        return True
    if _UNSAFE_SEGMENT.search(name):
        return False
    return any(
        _compiled(pattern, case_sensitive).fullmatch(name) for pattern in patterns
    )


def request_allowed(provider: Any, name: str, patterns: Sequence[str]) -> bool:
    """Return whether a provider's request for ``name`` is within ``patterns``.

    A provider may define ``policy_allows(name, patterns)`` to decide itself (AWS
    checks an ARN's account and region), ``policy_names(name)`` to give every form
    the vault may read the name as, all of which must match (Vault, with and
    without a ``data/`` segment), and ``policy_case_sensitive`` (False for Key
    Vault).
    """
    if not patterns:
        return True
    decide = getattr(provider, "policy_allows", None)
    if callable(decide):
        return bool(decide(name, patterns))
    namer = getattr(provider, "policy_names", None)
    names = list(namer(name)) if callable(namer) else [name]
    case_sensitive = bool(getattr(provider, "policy_case_sensitive", True))
    return all(matches(each, patterns, case_sensitive=case_sensitive) for each in names)

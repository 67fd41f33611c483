"""Env files of references: ``NAME=vault://...`` lines for ``resolve`` and ``exec``.

The format: one ``NAME=VALUE`` per line; blank lines and lines starting with ``#``
are skipped; an optional ``export`` prefix is allowed; a value may be wrapped in
matching single or double quotes, which are removed (nothing inside is unescaped).
A ``#`` after whitespace starts a comment, unless it is inside quotes; a ``#``
right after other text (``vault://aws/db#password``) is part of the value. A value
that starts with ``vault:`` is a reference; any other value passes through
unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prizm.errors import UsageError
from prizm.references import is_reference

__all__ = ["EnvEntry", "parse_env_file", "read_env_file"]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EnvEntry:
    """One variable of an env file."""

    name: str
    value: str
    line: int

    @property
    def is_reference(self) -> bool:
        return is_reference(self.value)


def parse_env_file(text: str, source: str) -> list[EnvEntry]:
    """Parse env file ``text``; ``source`` names the file in errors."""
    entries: list[EnvEntry] = []
    seen: dict[str, int] = {}
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, separator, value = line.partition("=")
        name = name.strip()
        if not separator:
            raise UsageError(
                f"Line {number} of {source} is not NAME=VALUE.",
                hint="Write each variable as NAME=vault://<integration>/<secret>#<key>.",
            )
        if not NAME.fullmatch(name):
            raise UsageError(
                f"Line {number} of {source}: {name!r} is not a valid variable name.",
                hint="Use letters, digits and '_', not starting with a digit.",
            )
        if name in seen:
            raise UsageError(
                f"Line {number} of {source} sets {name} again (first set on line "
                f"{seen[name]}).",
                hint="Set each variable once.",
            )
        seen[name] = number
        entries.append(EnvEntry(name, _unquoted(value, number, source), number))
    return entries


QUOTED_WITH_COMMENT = re.compile(r"""(['"])(.*)\1\s+#.*""", re.DOTALL)
INLINE_COMMENT = re.compile(r"\s+#.*", re.DOTALL)


def _unquoted(value: str, number: int, source: str) -> str:
    """Remove surrounding quotes or a trailing comment from a value."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    quoted = QUOTED_WITH_COMMENT.fullmatch(value)
    if quoted:
        return quoted.group(2)
    if value[:1] in ("'", '"'):
        raise UsageError(
            f"Line {number} of {source} opens a {value[0]} quote that is not closed.",
            hint="Close the quote at the end of the value; nothing inside quotes is "
            "unescaped, and a value cannot span lines.",
        )
    return INLINE_COMMENT.sub("", value)


def read_env_file(path: str) -> list[EnvEntry]:
    """Read and parse the env file at ``path`` (``-`` for standard input)."""
    import sys

    if path == "-":
        return parse_env_file(sys.stdin.read(MAX_FILE_BYTES + 1), "standard input")
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(
                f"The env file {path} is larger than {MAX_FILE_BYTES} bytes.",
                hint="Split it, or keep only the variables the command needs.",
            )
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"The env file {path} does not exist.",
            hint="Check the path given to --env-file.",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"The env file {path} cannot be read ({exc.__class__.__name__}).",
            hint="Check its permissions and that it is UTF-8 text.",
        ) from None
    return parse_env_file(text, path)
